//! HTTP over NATS, wire-compatible with nats-roundtripper (Go): HTTP
//! services reached by host names ending in `.nats`, their requests and
//! replies carried whole as HTTP/1.1 messages over NATS request/reply, so
//! NATS balances (queue group `nrt`), fails over and routes canaries by
//! subject mapping.
//!
//! This release has the wire format ([`wire`]): subjects, the host rule,
//! and the request and reply payloads with the quirks of Go peers. The
//! server (any `tower::Service<http::Request>`, an axum `Router` as it is),
//! the client and the gateway bridge build on it.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod wire;
