//! Code generation for nrpc: typed NATS clients and servers from `.proto`
//! services, wire-compatible with nRPC.
//!
//! Use it from a service crate's `build.rs`:
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     nrpc_codegen::configure().compile_protos(&["proto/helloworld.proto"], &["proto"])?;
//!     Ok(())
//! }
//! ```
//!
//! and include the generated file per proto package (here `helloworld`):
//!
//! ```text
//! pub mod helloworld {
//!     include!(concat!(env!("OUT_DIR"), "/helloworld.rs"));
//! }
//! ```
//!
//! `.proto` files are parsed in Rust (protox): no `protoc` is needed, and
//! `import "nrpc/nrpc.proto";` (or Go's `import "nrpc.proto";`) resolves to
//! the copy shipped with this crate, and so does `import "nrpc/durable.proto";`
//! (durable commands and events).
//!
//! The [`model`] and [`emit`] modules are the generator's core, shared with
//! the `#[nats_service]` front end; the `.proto` front end is behind the
//! default `proto` feature.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod emit;
pub mod model;
#[cfg(feature = "proto")]
mod proto;

#[cfg(feature = "proto")]
pub use proto::{
    compile_with_descriptors, configure, Builder, Diagnostic, Error, PackageSubjectFallback,
};

/// The `nrpc/nrpc.proto` this crate ships (options, Error, Void, …): a copy
/// of the repository's `proto/nrpc/nrpc.proto` inside the crate, so it
/// packages (a test keeps the two equal).
pub const NRPC_PROTO: &str = include_str!("../proto/nrpc/nrpc.proto");

/// The `nrpc/durable.proto` this crate ships (the `(nrpc.durable)` method
/// option): a copy of the repository's `proto/nrpc/durable.proto`, kept
/// equal by a test like [`NRPC_PROTO`].
pub const NRPC_DURABLE_PROTO: &str = include_str!("../proto/nrpc/durable.proto");
