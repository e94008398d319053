// Exactly what a service crate's build.rs looks like.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    nrpc_codegen::configure()
        // `bytes` fields as `bytes::Bytes`: payloads are not copied.
        .bytes(["."])
        // tonic's gRPC client and server too, and the glue that serves one
        // implementation over both (the `dual` example).
        .grpc(true)
        .compile_protos(
            &[
                "../proto/greeter.proto",
                "../proto/fleet.proto",
                "../proto/chat.proto",
                "../proto/jobs.proto",
            ],
            &["../proto"],
        )?;
    // Not part of a service crate: the deployment bench's gRPC reference.
    let tonic_out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("tonic");
    std::fs::create_dir_all(&tonic_out)?;
    println!("cargo:rerun-if-changed=../proto/bench.proto");
    tonic_prost_build::configure()
        .out_dir(tonic_out)
        .bytes(".")
        .compile_fds(protox::compile(["bench.proto"], ["../proto"])?)?;
    Ok(())
}
