//! The Rust code of the README and the guides is compiled code: every
//! ```` ```rust ```` block follows a comment naming where it comes from,
//!
//! ```text
//! <!-- source: examples/src/bin/first_service.rs#serve,client -->
//! ```
//!
//! and must equal those regions of that file (each between `// ANCHOR: name`
//! and `// ANCHOR_END: name`, as mdBook marks them), indentation aside,
//! joined by a blank line. The files are programs and tests the suite
//! builds and runs, so a guide cannot show code that does not compile.
//!
//! After changing a source, `NRPC_BLESS=1 cargo test -p nrpc-tests --test
//! guides` rewrites the blocks from it.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// The documents whose Rust blocks are checked.
fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut docs = vec![root.join("README.md")];
    let mut guides: Vec<_> = std::fs::read_dir(root.join("docs/guides"))
        .expect("docs/guides")
        .map(|e| e.expect("a guide").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    guides.sort();
    docs.extend(guides);
    docs
}

fn dedent(lines: &[&str]) -> Vec<String> {
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end().to_string())
        .collect()
}

fn is_anchor(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("// ANCHOR: ") || t.starts_with("// ANCHOR_END: ")
}

/// The lines of region `name` of `file`, dedented, without anchor lines.
fn region(file: &str, name: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(root().join(file)).map_err(|e| format!("{file}: {e}"))?;
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == format!("// ANCHOR: {name}"))
        .ok_or_else(|| format!("{file} has no `// ANCHOR: {name}`"))?;
    let len = lines[start..]
        .iter()
        .position(|l| l.trim() == format!("// ANCHOR_END: {name}"))
        .ok_or_else(|| format!("{file} has no `// ANCHOR_END: {name}`"))?;
    let body: Vec<&str> = lines[start + 1..start + len]
        .iter()
        .copied()
        .filter(|l| !is_anchor(l))
        .collect();
    if body.iter().all(|l| l.trim().is_empty()) {
        return Err(format!("{file}#{name} is empty"));
    }
    Ok(dedent(&body))
}

/// What a `<!-- source: … -->` comment names, as one block of lines.
fn expected(sources: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for source in sources.split_whitespace() {
        let (file, names) = source
            .split_once('#')
            .ok_or_else(|| format!("`{source}`: want path#region[,region]"))?;
        for name in names.split(',') {
            if !out.is_empty() {
                out.push(String::new());
            }
            out.extend(region(file, name)?);
        }
    }
    Ok(out)
}

struct Block {
    /// A fence without a language, which rustdoc would take for Rust.
    untagged: bool,
    /// Line index of the opening fence.
    open: usize,
    /// Line index of the closing fence.
    close: usize,
    indent: usize,
    sources: Option<String>,
}

fn rust_blocks(lines: &[&str]) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim_start();
        if let Some(info) = t.strip_prefix("```") {
            let indent = lines[i].len() - t.len();
            let close = (i + 1..lines.len())
                .find(|&j| lines[j].trim() == "```")
                .unwrap_or(lines.len());
            if info.trim().is_empty() {
                // rustdoc (which includes the guides) would compile it as Rust.
                blocks.push(Block {
                    untagged: true,
                    open: i,
                    close,
                    indent,
                    sources: None,
                });
            } else if info.split(',').next() == Some("rust") {
                let sources = lines[..i]
                    .iter()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .and_then(|l| l.trim().strip_prefix("<!-- source:"))
                    .and_then(|l| l.strip_suffix("-->"))
                    .map(|s| s.trim().to_string());
                blocks.push(Block {
                    untagged: false,
                    open: i,
                    close,
                    indent,
                    sources,
                });
            }
            i = close + 1;
        } else {
            i += 1;
        }
    }
    blocks
}

#[test]
fn every_rust_block_of_the_readme_and_guides_is_compiled_code() {
    let bless = std::env::var_os("NRPC_BLESS").is_some();
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let name = doc
            .strip_prefix(root())
            .expect("under the root")
            .display()
            .to_string();
        let text = std::fs::read_to_string(&doc).expect("a document");
        let lines: Vec<&str> = text.lines().collect();
        let mut rewritten: Vec<String> = Vec::new();
        let mut copied = 0;
        for block in rust_blocks(&lines) {
            let at = format!("{name}:{}", block.open + 1);
            if block.untagged {
                problems.push(format!(
                    "{at}: a code block without a language (`text`, `toml`, `sh`, …)"
                ));
                continue;
            }
            let Some(sources) = &block.sources else {
                problems.push(format!(
                    "{at}: a Rust block without a `<!-- source: path#region -->` line before it"
                ));
                continue;
            };
            let want = match expected(sources) {
                Ok(want) => want,
                Err(e) => {
                    problems.push(format!("{at}: {e}"));
                    continue;
                }
            };
            checked += 1;
            let have = dedent(&lines[block.open + 1..block.close]);
            if have == want {
                continue;
            }
            if bless {
                rewritten.extend(lines[copied..=block.open].iter().map(|l| l.to_string()));
                let pad = " ".repeat(block.indent);
                rewritten.extend(want.iter().map(|l| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        format!("{pad}{l}")
                    }
                }));
                copied = block.close;
            } else {
                let first = have
                    .iter()
                    .zip(&want)
                    .position(|(a, b)| a != b)
                    .unwrap_or(have.len().min(want.len()));
                problems.push(format!(
                    "{at}: differs from {sources} at its line {}:\n  guide:  {:?}\n  source: {:?}",
                    first + 1,
                    have.get(first).map_or("(end)", |s| s),
                    want.get(first).map_or("(end)", |s| s),
                ));
            }
        }
        if bless && copied > 0 {
            rewritten.extend(lines[copied..].iter().map(|l| l.to_string()));
            std::fs::write(&doc, rewritten.join("\n") + "\n").expect("rewrite a guide");
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n(NRPC_BLESS=1 cargo test -p nrpc-tests --test guides rewrites blocks from their sources)",
        problems.join("\n")
    );
    assert!(checked >= 10, "only {checked} Rust blocks found");
}

#[test]
fn the_checker_finds_blocks_and_their_sources() {
    let doc = "intro\n<!-- source: a.rs#x -->\n\n```rust,ignore\nlet a = 1;\n```\n\n   ```rust\n   b\n   ```\n```toml\nc\n```\n```\nd\n```\n";
    let lines: Vec<&str> = doc.lines().collect();
    let blocks = rust_blocks(&lines);
    assert_eq!(blocks.len(), 3);
    assert!(blocks[2].untagged && !blocks[0].untagged);
    assert_eq!(blocks[0].sources.as_deref(), Some("a.rs#x"));
    assert_eq!((blocks[0].open, blocks[0].close), (3, 5));
    assert_eq!(blocks[1].sources, None);
    assert_eq!(blocks[1].indent, 3);
    assert_eq!(
        dedent(&["    a", "      b", "", "    c"]),
        ["a", "  b", "", "c"]
    );
}
