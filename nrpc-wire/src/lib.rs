//! The nrpc protocol core: every rule of the wire protocol and of the
//! generated names, written once and shared by the code generator
//! (`nrpc-codegen`, `#[nats_service]`) and the runtime (`nrpc-runtime`).
//!
//! Nothing here does I/O: the runtime moves bytes and wakes tasks; this
//! crate decides which subject, which frame, how much credit, whether a
//! stream is complete. `docs/PROTOCOL.md` describes the same rules in prose.
//!
//! | concern | module |
//! |---|---|
//! | call kinds | [`kind`] |
//! | a service's subjects and methods, and their validation | [`spec`] |
//! | subject tokens and their limits | [`subject`] |
//! | a service's subjects: building and parsing them | [`address`] |
//! | routing prefixes (broadcast, direct, cancel), discovery subjects | [`route`] |
//! | the Rust names generated for a service, and their clashes | [`names`] |
//! | header names and values | [`headers`] |
//! | payload encodings | [`encoding`] |
//! | status codes, error frames (feature `frames`) | `status`, `frame` |
//! | nrpc.proto's messages (feature `frames`) | `proto` |
//! | stream flow control (feature `frames`) | `stream` |
//! | durable commands and events: policy, stream shapes, names (retries and dead letters: feature `frames`) | `durable` |
//! | HTTP over NATS in nats-roundtripper's format (feature `http`) | `nrt` |
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod address;
pub mod caller;
pub mod durable;
pub mod encoding;
pub mod grpc;
pub mod headers;
pub mod kind;
pub mod names;
#[cfg(feature = "http")]
pub mod nrt;
pub mod route;
pub mod spec;
pub mod subject;

#[cfg(feature = "frames")]
pub mod frame;
#[cfg(feature = "frames")]
pub mod proto;
#[cfg(feature = "frames")]
pub mod status;
#[cfg(feature = "frames")]
pub mod stream;

/// The version of nrpc's extensions to the nRPC wire protocol
/// (`docs/PROTOCOL.md`): raised when a change cannot talk to peers of the
/// version before. The base protocol is nRPC's, unversioned.
pub const PROTOCOL_VERSION: u32 = 1;

pub use encoding::Encoding;
pub use kind::MethodKind;
pub use spec::{MethodPart, MethodSpec, Problem, ServiceSpec, SharedSpec, Site, Text};
pub use subject::InvalidToken;

#[cfg(feature = "frames")]
pub use frame::ErrorFrame;
#[cfg(feature = "frames")]
pub use proto::error::Type as ErrorType;
#[cfg(feature = "frames")]
pub use status::{Code, Status};
