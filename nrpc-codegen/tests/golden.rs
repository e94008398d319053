//! Golden files: the code generated for fixture protos is compared with
//! checked-in files, so every generator change shows up as a diff.
//! Run with `UPDATE_GOLDEN=1` to rewrite them on purpose.

use std::path::{Path, PathBuf};

/// Where the package's `grpc` module begins in a services file.
const ADDED_BY_GRPC: &str = "/// gRPC (tonic) for the services of this package";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Generates `proto` and compares the package's file and its services file
/// (`<package>-nrpc.rs`, which the package's file includes) with the golden
/// copies.
fn check(proto: &str, package: &str) {
    check_with(proto, package, "", nrpc_codegen::configure());
}

/// [`check`] with `builder`, whose golden files carry `suffix`.
fn check_with(proto: &str, package: &str, suffix: &str, builder: nrpc_codegen::Builder) {
    let out = tempfile::tempdir().expect("temp dir");
    builder
        .out_dir(out.path())
        .compile_protos(&[root().join("proto").join(proto)], &[root().join("proto")])
        .unwrap_or_else(|e| panic!("{e}"));
    // The messages do not change with the options: their file is checked once.
    let mut files = vec![format!("{package}-nrpc.rs")];
    if suffix.is_empty() {
        files.push(format!("{package}.rs"));
    }
    for file in files {
        let generated = std::fs::read_to_string(out.path().join(&file))
            .unwrap_or_else(|e| panic!("generated file {file}: {e}"));
        if let Err(e) = syn::parse_file(&generated) {
            panic!("generated {file} is not Rust: {e}");
        }
        // With options, only what they add is kept: the rest is the
        // option-less golden file's.
        let generated = match generated.find(ADDED_BY_GRPC) {
            Some(at) if !suffix.is_empty() => generated[at..].to_owned(),
            _ => generated,
        };
        let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("golden")
            .join(file.replacen(".rs", &format!("{suffix}.rs"), 1));
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
fn jobs() {
    check("jobs.proto", "jobs.v1");
}

#[test]
fn chat() {
    check("chat.proto", "chat.v1");
}

/// With `.grpc(true)`: tonic's client and server in the package's `grpc`
/// module and the glue serving the nrpc trait over gRPC (every kind, the
/// nRPC-only shapes answered UNIMPLEMENTED).
#[test]
fn chat_and_alloptions_with_grpc() {
    check_with(
        "chat.proto",
        "chat.v1",
        ".grpc",
        nrpc_codegen::configure().grpc(true),
    );
    check_with(
        "alloptions.proto",
        "main",
        ".grpc",
        nrpc_codegen::configure().grpc(true),
    );
}
