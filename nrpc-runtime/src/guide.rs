//! The guides, as in the repository's `docs/guides/` (the same files).
//!
//! Their Rust blocks are regions of programs and tests the test suite
//! builds and runs (each names its source, and `tests/tests/guides.rs`
//! checks that they match), so they are not doctests here; links to other
//! files of the repository lead there, not into these docs.

#[cfg_attr(not(doctest), doc = include_str!("../guides/services.md"))]
pub mod services {}

#[cfg_attr(not(doctest), doc = include_str!("../guides/rust-services.md"))]
pub mod rust_services {}

#[cfg_attr(not(doctest), doc = include_str!("../guides/concepts.md"))]
pub mod concepts {}

#[cfg_attr(not(doctest), doc = include_str!("../guides/cli.md"))]
pub mod cli {}

#[cfg_attr(not(doctest), doc = include_str!("../guides/grpc-and-gateway.md"))]
pub mod grpc_and_gateway {}

#[cfg_attr(not(doctest), doc = include_str!("../guides/production.md"))]
pub mod production {}

#[cfg_attr(not(doctest), doc = include_str!("../guides/gateway-in-production.md"))]
pub mod gateway_in_production {}

#[cfg_attr(not(doctest), doc = include_str!("../guides/http-over-nats.md"))]
pub mod http_over_nats {}

#[cfg_attr(not(doctest), doc = include_str!("../guides/durable.md"))]
pub mod durable {}
