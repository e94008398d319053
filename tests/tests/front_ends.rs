//! Both front ends enforce the same rules with the same words: a service
//! written once as a `#[nats_service]` trait and once as a `.proto` file,
//! with the same mistakes, is rejected with exactly the same messages
//! (the macro's, pinned by its UI test, and the `.proto` front end's).

use std::path::Path;

#[test]
fn the_macro_and_the_proto_front_end_reject_the_same_problems() {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nrpc-macros/tests/ui");
    let protos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let err = nrpc_codegen::configure()
        .read_services(&[ui.join("same_rules_as_proto.proto")], &[&ui, &protos])
        .expect_err("the .proto front end must reject the service");
    let nrpc_codegen::Error::Invalid(diagnostics) = err else {
        panic!("expected validation problems, got {err}");
    };
    let from_proto: Vec<String> = diagnostics.iter().map(|d| d.message.clone()).collect();

    let stderr = std::fs::read_to_string(ui.join("same_rules_as_proto.stderr"))
        .expect("the macro's UI test output");
    let from_macro: Vec<String> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("error: "))
        .map(str::to_owned)
        .collect();

    assert!(from_proto.len() >= 8, "{from_proto:#?}");
    assert_eq!(from_proto, from_macro);
    // Each .proto problem points at its line.
    for d in &diagnostics {
        assert!(d.line > 0, "no line for {d}");
    }
}
