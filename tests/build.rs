fn main() -> Result<(), Box<dyn std::error::Error>> {
    // With the gRPC face (tonic) of every service: every call kind and
    // option compiles through the glue, and tests/dual.rs calls it.
    // ANCHOR: grpc
    nrpc_codegen::configure().grpc(true).compile_protos(
        &[
            "../proto/helloworld.proto",
            "../proto/alloptions.proto",
            "../proto/greeter.proto",
            "../proto/chat.proto",
            "../proto/interop.proto",
            "../proto/jobs.proto",
        ],
        &["../proto"],
    )?;
    // ANCHOR_END: grpc
    // Several packages referring to each other: one module tree from
    // `include_file`, in a directory of its own (one compile per directory).
    // ANCHOR: packages
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("shop");
    nrpc_codegen::configure()
        .grpc(true)
        .out_dir(&out)
        .include_file("mod.rs")
        .compile_protos(
            &["../proto/shop/orders.proto", "../proto/shop/common.proto"],
            &["../proto"],
        )?;
    // ANCHOR_END: packages
    Ok(())
}
