//! Rust source text written already indented, so that the generator never
//! has to parse and pretty-print its own output (in an unoptimized build
//! script that cost most of the generation time).

/// Indented Rust source, four spaces per level.
#[derive(Debug, Default)]
pub(crate) struct Code {
    out: String,
    depth: usize,
}

impl Code {
    /// Writes `text` line by line at the current depth (lines keep their
    /// own leading spaces on top). A line of spaces only, what an empty
    /// placeholder leaves, is dropped; an empty line stays a blank line.
    pub(crate) fn put(&mut self, text: &str) {
        for line in text.split('\n') {
            if line.is_empty() {
                self.out.push('\n');
            } else if !line.trim_start_matches(' ').is_empty() {
                for _ in 0..self.depth {
                    self.out.push_str("    ");
                }
                self.out.push_str(line);
                self.out.push('\n');
            }
        }
    }

    /// Writes `line` (ending in `{`) and indents what follows.
    pub(crate) fn open(&mut self, line: &str) {
        self.put(line);
        self.indent();
    }

    /// Indents what follows one level more.
    pub(crate) fn indent(&mut self) {
        self.depth += 1;
    }

    /// Ends what [`open`](Self::open) began with `line` (usually `}`).
    pub(crate) fn close(&mut self, line: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.put(line);
    }

    /// Writes documentation lines as `///` comments.
    pub(crate) fn docs<S: AsRef<str>>(&mut self, lines: &[S]) {
        for line in lines {
            self.put(&doc_line(line.as_ref()));
        }
    }

    /// The text written so far.
    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// One `///` line. A space goes after `///` unless the text starts with
/// one; carriage returns and other line breaks, which would end the
/// comment or be rejected in it, become spaces.
pub(crate) fn doc_line(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.is_empty() || text.starts_with(' ') {
        format!("///{text}")
    } else {
        format!("/// {text}")
    }
}

/// A string literal for `s` (Rust accepts the `Debug` escapes).
pub(crate) fn lit(s: &str) -> String {
    format!("{s:?}")
}

/// Writes formatted text into a [`Code`]: `put!(code, "fmt", args…)`.
macro_rules! put {
    ($code:expr, $($fmt:tt)*) => {
        $code.put(&format!($($fmt)*))
    };
}
pub(crate) use put;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_and_drops_empty_placeholders() {
        let mut c = Code::default();
        c.open("mod m {");
        put!(c, "fn f(\n    {}\n) {{}}", "");
        c.put("");
        c.docs(&["a", " b", "c\rd"]);
        c.close("}");
        assert_eq!(
            c.finish(),
            "mod m {\n    fn f(\n    ) {}\n\n    /// a\n    /// b\n    /// c d\n}\n"
        );
    }

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(lit("a\"b\\c\n"), r#""a\"b\\c\n""#);
    }
}
