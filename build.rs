//! Compiles our own `.proto` files (written from the field tables in
//! `../shared/protocol/messages.md` §3) with protox, so no `protoc` binary is needed.

fn main() {
    let protos: Vec<_> = std::fs::read_dir("proto")
        .map(|dir| {
            dir.filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
                .collect()
        })
        .unwrap_or_default();
    println!("cargo:rerun-if-changed=proto");
    if protos.is_empty() {
        return;
    }
    let descriptors = match protox::compile(&protos, ["proto"]) {
        Ok(descriptors) => descriptors,
        Err(error) => panic!("cannot compile proto files: {error:?}"),
    };
    if let Err(error) = prost_build::Config::new().compile_fds(descriptors) {
        panic!("cannot generate Rust from proto files: {error}");
    }
}
