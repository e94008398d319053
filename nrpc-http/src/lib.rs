//! HTTP over NATS, wire-compatible with nats-roundtripper (Go): HTTP
//! services reached by host names ending in `.nats`, their requests and
//! replies carried as HTTP/1.1 messages over NATS, so NATS balances (queue
//! group `nrt`), fails over and routes canaries by subject mapping.
//!
//! * [`HttpServer`]: any `tower::Service` of HTTP requests — an axum
//!   `Router` as it is — serves a `.nats` host over NATS, beside its normal
//!   listener; a limit on requests in progress (`503` past it), the
//!   caller's deadline and cancellation, `$SRV` discovery; handlers read
//!   where a request came from as a [`Remote`] extension.
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
pub use server::{HttpServer, HttpServerBuilder, HttpServerHandle, Remote, ServeError};
pub use stream::{Body, BodyError};

/// The span of one request on `side`, named and with fields after
/// OpenTelemetry's HTTP conventions; its status is recorded by
/// [`observe`].
fn span(side: Side, host: &str, method: &http::Method, path: &str) -> tracing::Span {
    let empty = tracing::field::Empty;
    match side {
        Side::Client => tracing::info_span!(
            "nrpc_http.client",
            otel.kind = "client",
            otel.status_code = empty,
            http.request.method = method.as_str(),
            server.address = host,
            url.path = path,
            http.response.status_code = empty,
        ),
        Side::Server => tracing::info_span!(
            "nrpc_http.server",
            otel.kind = "server",
            otel.status_code = empty,
            http.request.method = method.as_str(),
            server.address = host,
            url.path = path,
            http.response.status_code = empty,
        ),
    }
}

/// W3C trace context in HTTP headers (feature `opentelemetry`), with the
/// globally installed propagator.
#[cfg(feature = "opentelemetry")]
mod otel {
    use opentelemetry::propagation::{Extractor, Injector};
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    struct Inject<'a>(&'a mut http::HeaderMap);

    impl Injector for Inject<'_> {
        fn set(&mut self, key: &str, value: String) {
            // One trace context per request: this call's own replaces one
            // the caller set.
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(key.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) {
                self.0.insert(name, value);
            }
        }
    }

    struct Extract<'a>(&'a http::HeaderMap);

    impl Extractor for Extract<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }

        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(http::HeaderName::as_str).collect()
        }
    }

    pub(crate) fn inject(span: &tracing::Span, headers: &mut http::HeaderMap) {
        let cx = span.context();
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&cx, &mut Inject(headers))
        });
    }

    pub(crate) fn extract(span: &tracing::Span, headers: &http::HeaderMap) {
        let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Extract(headers)));
        let _ = span.set_parent(cx);
    }
}

/// Writes the client span's trace context (`traceparent`, `tracestate`)
/// into the request's headers (feature `opentelemetry`; else nothing).
#[allow(unused_variables)]
fn inject(span: &tracing::Span, headers: &mut http::HeaderMap) {
    #[cfg(feature = "opentelemetry")]
    if !span.is_disabled() {
        otel::inject(span, headers);
    }
}

/// Makes the caller's trace context the parent of the server's span
/// (feature `opentelemetry`).
#[allow(unused_variables)]
fn extract(span: &tracing::Span, headers: &http::HeaderMap) {
    #[cfg(feature = "opentelemetry")]
    if !span.is_disabled() {
        otel::extract(span, headers);
    }
}

/// Records one request of `side` (`server`, `client`) for `host`: its
/// method, status and duration, in its span, as a debug event and (feature
/// `metrics`) as metrics (`host` shared by their labels, not copied).
fn observe(
    side: Side,
    span: &tracing::Span,
    host: &std::sync::Arc<str>,
    method: &http::Method,
    status: http::StatusCode,
    took: std::time::Duration,
) {
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    tracing::debug!(
        side = side.name(),
        host = &**host,
        method = method.as_str(),
        status = status.as_u16(),
        duration_us = took.as_micros() as u64,
        "nrpc-http request"
    );
    #[cfg(feature = "metrics")]
    {
        // Static names and common methods: fewer copies per request.
        let method = match *method {
            http::Method::GET => "GET",
            http::Method::POST => "POST",
            http::Method::PUT => "PUT",
            http::Method::DELETE => "DELETE",
            http::Method::HEAD => "HEAD",
            http::Method::PATCH => "PATCH",
            ref other => return observe_other(side, host, other.as_str(), status, took),
        };
        record(side, host, method, status, took);
    }
}

#[cfg(feature = "metrics")]
fn observe_other(
    side: Side,
    host: &std::sync::Arc<str>,
    method: &str,
    status: http::StatusCode,
    took: std::time::Duration,
) {
    record(side, host, method.to_owned(), status, took);
}

#[cfg(feature = "metrics")]
fn record(
    side: Side,
    host: &std::sync::Arc<str>,
    method: impl Into<metrics::SharedString>,
    status: http::StatusCode,
    took: std::time::Duration,
) {
    let (requests, duration) = match side {
        Side::Server => (
            "nrpc_http_server_requests_total",
            "nrpc_http_server_duration_seconds",
        ),
        Side::Client => (
            "nrpc_http_client_requests_total",
            "nrpc_http_client_duration_seconds",
        ),
    };
    let (host, method) = (metrics::SharedString::from(host.clone()), method.into());
    // The common statuses without a copy.
    let status: metrics::SharedString = match status.as_u16() {
        200 => "200".into(),
        201 => "201".into(),
        204 => "204".into(),
        304 => "304".into(),
        400 => "400".into(),
        404 => "404".into(),
        500 => "500".into(),
        502 => "502".into(),
        503 => "503".into(),
        504 => "504".into(),
        _ => status.as_str().to_owned().into(),
    };
    let labels = [
        metrics::Label::new("host", host),
        metrics::Label::new("method", method),
        metrics::Label::new("status", status),
    ];
    metrics::counter!(requests, labels.iter()).increment(1);
    metrics::histogram!(duration, labels[..2].iter()).record(took.as_secs_f64());
}

/// Which end of a request is observed.
#[derive(Debug, Clone, Copy)]
enum Side {
    Server,
    Client,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
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
