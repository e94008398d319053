//! Every input `#[nats_service]` rejects, with the exact compiler message a
//! user sees. Regenerate the `.stderr` files with `TRYBUILD=overwrite`.

#[test]
fn rejected_inputs() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
