fn main() -> Result<(), Box<dyn std::error::Error>> {
    nrpc_codegen::configure().compile_protos(&["../../proto/helloworld.proto"], &["../../proto"])?;
    Ok(())
}
