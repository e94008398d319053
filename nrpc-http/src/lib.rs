//! HTTP over NATS, wire-compatible with nats-roundtripper (Go): HTTP
//! services reached by host names ending in `.nats`, their requests and
//! replies carried as HTTP/1.1 messages over NATS, so NATS balances (queue
//! group `nrt`), fails over and routes canaries by subject mapping.
//!
//! * [`HttpServer`]: any `tower::Service` of HTTP requests — an axum
//!   `Router` as it is — serves a `.nats` host over NATS, beside its normal
//!   listener; a limit on requests in progress (`503` past it), the
//!   caller's deadline and cancellation, `$SRV` discovery.
//! * [`HttpClient`]: requests to `http://<host>.nats/…` over NATS, as a
//!   `tower::Service` and with `get`/`post`; what NATS knows is a response
//!   at once: no responders `503`, timeout `504`.
//! * Between nrpc-http peers, bodies are streamed (negotiated: nrt peers
//!   see plain requests and whole replies): responses of unknown length
//!   (server-sent events) arrive as produced ([`Body`]), and bodies larger
//!   than the broker's `max_payload` go in chunks with flow control (`413`
//!   toward a host only nrt servers serve).
//! * [`wire`]: subjects, the host rule, the request and reply payloads,
//!   the streaming signals.
//!
//! The guide is `docs/guides/http-over-nats.md`; the protocol,
//! `docs/PROTOCOL.md` §10.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod client;
mod discovery;
mod server;
mod stream;

/// The wire format (nrpc-wire's `nrt` module: every rule of it lives there).
pub use nrpc_wire::nrt as wire;

pub use client::{ClientError, HttpClient};
pub use server::{HttpServer, HttpServerBuilder, HttpServerHandle, ServeError};
pub use stream::{Body, BodyError};

/// Records one request of `side` (`server`, `client`) for `host`: its
/// method, status and duration (feature `metrics`; a span records them
/// either way).
fn observe(
    side: &'static str,
    host: &str,
    method: &http::Method,
    status: u16,
    took: std::time::Duration,
) {
    tracing::debug!(
        side,
        host,
        method = method.as_str(),
        status,
        duration_us = took.as_micros() as u64,
        "nrpc-http request"
    );
    #[cfg(feature = "metrics")]
    {
        let labels = [
            ("host", host.to_owned()),
            ("method", method.as_str().to_owned()),
            ("status", status.to_string()),
        ];
        metrics::counter!(format!("nrpc_http_{side}_requests_total"), &labels).increment(1);
        metrics::histogram!(format!("nrpc_http_{side}_duration_seconds"), &labels[..2])
            .record(took.as_secs_f64());
    }
}

/// The subject prefix nrt peers use: `NATS_PREFIX` if set and not empty,
/// else `nrt`.
fn prefix_from_env() -> String {
    std::env::var("NATS_PREFIX")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| wire::DEFAULT_PREFIX.to_owned())
}
