// Exactly what a service crate's build.rs looks like.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    nrpc_codegen::configure()
        // `bytes` fields as `bytes::Bytes`: payloads are not copied.
        .bytes(["."])
        .compile_protos(
            &[
                "../proto/greeter.proto",
                "../proto/fleet.proto",
                "../proto/chat.proto",
            ],
            &["../proto"],
        )?;
    Ok(())
}
