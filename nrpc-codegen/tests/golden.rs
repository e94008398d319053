//! Golden files: the code generated for fixture protos is compared with
//! checked-in files, so every generator change shows up as a diff.
//! Run with `UPDATE_GOLDEN=1` to rewrite them on purpose.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Generates `proto` and compares the package's file and its services file
/// (`<package>-nrpc.rs`, which the package's file includes) with the golden
/// copies.
fn check(proto: &str, package: &str) {
    let out = tempfile::tempdir().expect("temp dir");
    nrpc_codegen::configure()
        .out_dir(out.path())
        .compile_protos(&[root().join("proto").join(proto)], &[root().join("proto")])
        .unwrap_or_else(|e| panic!("{e}"));
    for file in [format!("{package}.rs"), format!("{package}-nrpc.rs")] {
        let generated = std::fs::read_to_string(out.path().join(&file))
            .unwrap_or_else(|e| panic!("generated file {file}: {e}"));
        if let Err(e) = syn::parse_file(&generated) {
            panic!("generated {file} is not Rust: {e}");
        }
        let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("golden")
            .join(&file);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &generated).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        if generated != expected {
            let diff = similar::TextDiff::from_lines(&expected, &generated)
                .unified_diff()
                .context_radius(3)
                .header(&golden.display().to_string(), "generated")
                .to_string();
            panic!(
                "generated code for {proto} differs from {}; if the change is intended, \
                 rerun with UPDATE_GOLDEN=1 and commit the new file.\n{diff}",
                golden.display()
            );
        }
    }
}

#[test]
fn helloworld() {
    check("helloworld.proto", "helloworld");
}

#[test]
fn alloptions() {
    check("alloptions.proto", "main");
}

/// Client-streaming, bidirectional and proto3 server-streaming methods.
#[test]
fn chat() {
    check("chat.proto", "chat.v1");
}
