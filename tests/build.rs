fn main() -> Result<(), Box<dyn std::error::Error>> {
    nrpc_codegen::configure().compile_protos(
        &[
            "../proto/helloworld.proto",
            "../proto/alloptions.proto",
            "../proto/greeter.proto",
            "../proto/chat.proto",
            "../proto/interop.proto",
        ],
        &["../proto"],
    )?;
    // Several packages referring to each other: one module tree from
    // `include_file`, in a directory of its own (one compile per directory).
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("shop");
    nrpc_codegen::configure()
        .out_dir(&out)
        .include_file("mod.rs")
        .compile_protos(
            &["../proto/shop/orders.proto", "../proto/shop/common.proto"],
            &["../proto"],
        )?;
    Ok(())
}
