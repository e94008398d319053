// The README's build.rs: the first service's protos, nothing else.
// ANCHOR: build
fn main() -> Result<(), Box<dyn std::error::Error>> {
    nrpc_codegen::configure().compile_protos(&["proto/greeter.proto"], &["proto"])?;
    Ok(())
}
// ANCHOR_END: build
