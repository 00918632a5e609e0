//! Compiles `proto/stampede/v1/*.proto` with protox (pure Rust, no system `protoc`).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fds = protox::compile(["stampede/v1/coordinator.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
