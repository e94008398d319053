//! Golden files: the code generated for fixture protos is compared with
//! checked-in files, so every generator change shows up as a diff.
//! Run with `UPDATE_GOLDEN=1` to rewrite them on purpose.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn check(proto: &str, package_file: &str) {
    let out = tempfile::tempdir().expect("temp dir");
    nrpc_codegen::configure()
        .out_dir(out.path())
        .compile_protos(&[root().join("proto").join(proto)], &[root().join("proto")])
        .unwrap_or_else(|e| panic!("{e}"));
    let generated = std::fs::read_to_string(out.path().join(package_file)).expect("generated file");
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(package_file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &generated).expect("write golden");
        return;
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

#[test]
fn helloworld() {
    check("helloworld.proto", "helloworld.rs");
}

#[test]
fn alloptions() {
    check("alloptions.proto", "main.rs");
}

/// Client-streaming, bidirectional and proto3 server-streaming methods.
#[test]
fn chat() {
    check("chat.proto", "chat.v1.rs");
}
