//! A gateway that brings gRPC and HTTP/JSON callers onto nrpc and other
//! NATS services, for teams moving to NATS one service at a time.
//!
//! One HTTP server (HTTP/1.1 and HTTP/2, cleartext) answers:
//!
//! * **gRPC** (`content-type: application/grpc`) on
//!   `/<package>.<Service>/<Method>`, any gRPC client: the protobuf bytes
//!   go through unchanged, so only the service's subjects need be known;
//! * **HTTP/JSON** on the same paths (`POST`, or `GET` for an empty
//!   request), the body in protobuf's JSON mapping; streamed replies as
//!   newline-delimited JSON or server-sent events;
//! * a **web console** on `/` (services, instances and live stats from
//!   discovery; a form to call any method).
//!
//! Services are known from `.proto` files given at start, or learned from
//! the schemas nrpc servers publish (kept, and refreshed in the
//! background). Every call goes out over the one NATS connection the
//! gateway holds: NATS balances across instances (queue groups), fails
//! over, and applies subject prefixes (canaries) — no discovery of its own.
//! Deadlines (`grpc-timeout`) become the call's deadline, metadata becomes
//! NATS headers, and a caller that goes away cancels the call.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let conn = nrpc_runtime::connect().await?;
//! let gateway = nrpc_gateway::Gateway::builder(conn).build()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! gateway.serve(listener).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod call;
mod catalog;
mod console;
mod grpc;
mod http;
mod reflection;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use nrpc_runtime::{Code, Connection};

use crate::call::Failure;
use crate::catalog::Catalog;

/// The gateway's settings.
#[derive(Debug, Clone)]
struct Options {
    default_timeout: Duration,
    max_timeout: Duration,
    max_body: usize,
    console: bool,
}

/// What every request handler shares.
#[derive(Debug)]
struct Shared {
    catalog: Arc<Catalog>,
    options: Options,
}

/// Sets up a [`Gateway`].
#[derive(Debug)]
pub struct GatewayBuilder {
    conn: Connection,
    protos: Vec<PathBuf>,
    includes: Vec<PathBuf>,
    options: Options,
    discovery_timeout: Duration,
    refresh_after: Duration,
}

impl GatewayBuilder {
    /// Services defined by these `.proto` files (imports resolved in
    /// `includes`; if none, each file's directory) are called as they
    /// define them, whatever their instances publish: for services that
    /// publish no schema (Go nRPC servers).
    pub fn protos(mut self, files: Vec<PathBuf>, includes: Vec<PathBuf>) -> Self {
        self.protos = files;
        self.includes = includes;
        self
    }

    /// The timeout of calls whose caller sets no deadline (5 s).
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.options.default_timeout = timeout;
        self
    }

    /// The longest deadline a caller may set; longer ones are cut to it
    /// (5 min).
    pub fn max_timeout(mut self, timeout: Duration) -> Self {
        self.options.max_timeout = timeout;
        self
    }

    /// The largest request body or gRPC message accepted (4 MiB; NATS'
    /// own `max_payload` applies too).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.options.max_body = bytes;
        self
    }

    /// Whether to serve the web console on `/` (on by default).
    pub fn console(mut self, on: bool) -> Self {
        self.options.console = on;
        self
    }

    /// How long a learned service's schema is used before it is asked for
    /// again, in the background (10 s).
    pub fn refresh_after(mut self, after: Duration) -> Self {
        self.refresh_after = after;
        self
    }

    /// How long discovery waits for instances and their schemas (2 s).
    pub fn discovery_timeout(mut self, timeout: Duration) -> Self {
        self.discovery_timeout = timeout;
        self
    }

    /// The gateway; reads the `.proto` files if any were given.
    pub fn build(self) -> Result<Gateway, nrpc_reflect::Error> {
        let defined = if self.protos.is_empty() {
            Vec::new()
        } else {
            nrpc_reflect::DynamicService::all_from_protos(&self.protos, &self.includes)?
        };
        let catalog = Catalog::new(
            self.conn,
            defined,
            self.discovery_timeout,
            self.refresh_after,
        );
        Ok(Gateway {
            shared: Arc::new(Shared {
                catalog: Arc::new(catalog),
                options: self.options,
            }),
        })
    }
}

/// The gateway: an [`axum::Router`] to serve, or to nest in an
/// application of your own.
#[derive(Debug, Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
}

impl Gateway {
    /// A gateway whose calls go out over `conn`.
    pub fn builder(conn: Connection) -> GatewayBuilder {
        GatewayBuilder {
            conn,
            protos: Vec::new(),
            includes: Vec::new(),
            options: Options {
                default_timeout: nrpc_runtime::DEFAULT_TIMEOUT,
                max_timeout: Duration::from_secs(300),
                max_body: 4 << 20,
                console: true,
            },
            discovery_timeout: Duration::from_secs(2),
            refresh_after: Duration::from_secs(10),
        }
    }

    /// Every route: the console's (if on), then calls on every other path.
    pub fn router(&self) -> axum::Router {
        let shared = self.shared.clone();
        let mut router = axum::Router::new();
        if self.shared.options.console {
            router = console::routes(router, self.shared.clone());
        }
        router.fallback(move |request: ::http::Request<Body>| dispatch(shared.clone(), request))
    }

    /// Serves the [`router`](Self::router) on `listener` (HTTP/1.1 and
    /// cleartext HTTP/2) until the process ends.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.serve_until(listener, std::future::pending()).await
    }

    /// Serves until `shutdown` completes, then stops accepting and lets the
    /// calls in progress finish (each within its deadline).
    pub async fn serve_until(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use axum::serve::ListenerExt;
        // Replies go out at once: Nagle's algorithm would hold small RPC
        // frames back for the peer's delayed ACK (40 ms).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("nrpc-gateway: TCP_NODELAY not set: {e}");
            }
        });
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// A call: gRPC by its content type, else JSON; the path names the service
/// and method (and, for JSON, subject parameters after them).
async fn dispatch(shared: Arc<Shared>, request: ::http::Request<Body>) -> Response {
    let grpc = request
        .headers()
        .get(::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    let path = request.uri().path().to_owned();
    let mut segments = path.trim_start_matches('/').split('/');
    let (Some(service), Some(method)) = (segments.next(), segments.next()) else {
        return not_a_call(grpc, &path);
    };
    if service.is_empty() || method.is_empty() {
        return not_a_call(grpc, &path);
    }
    if grpc {
        if segments.next().is_some() {
            return not_a_call(grpc, &path);
        }
        if reflection::is_reflection(service) {
            return reflect(shared, service, request).await;
        }
        return grpc::call(shared, service, method, request).await;
    }
    if !matches!(
        *request.method(),
        ::http::Method::POST | ::http::Method::GET
    ) {
        return (
            ::http::StatusCode::METHOD_NOT_ALLOWED,
            [(::http::header::ALLOW, "POST, GET")],
        )
            .into_response();
    }
    let mut positional = Vec::new();
    for segment in segments {
        match percent_decode(segment) {
            Some(value) => positional.push(value),
            None => {
                return Failure::new(
                    Code::InvalidArgument,
                    format!("the path segment {segment:?} is not UTF-8 once percent-decoded"),
                )
                .into_response()
            }
        }
    }
    http::call(shared, service, method, positional, request).await
}

/// gRPC server reflection, in the version the path names.
async fn reflect(shared: Arc<Shared>, service: &str, request: ::http::Request<Body>) -> Response {
    use tower::ServiceExt;
    let catalog = shared.catalog.clone();
    let response = if service.contains(".v1alpha.") {
        reflection::v1alpha::server(catalog).oneshot(request).await
    } else {
        reflection::v1::server(catalog).oneshot(request).await
    };
    match response {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}

fn percent_decode(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

fn not_a_call(grpc: bool, path: &str) -> Response {
    let failure = Failure::new(
        Code::Unimplemented,
        format!("{path:?} is not /<package>.<Service>/<Method>"),
    )
    .with_http(404);
    if grpc {
        failure.grpc().into_http()
    } else {
        failure.into_response()
    }
}
