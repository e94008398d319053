//! A gateway that brings gRPC and HTTP/JSON callers onto nrpc and other
//! NATS services, for teams moving to NATS one service at a time.
//!
//! One HTTP server (HTTP/1.1 and HTTP/2; cleartext, or TLS with
//! [`GatewayBuilder::tls`]) answers:
//!
//! * **gRPC** (`content-type: application/grpc`) on
//!   `/<package>.<Service>/<Method>`, any gRPC client: the protobuf bytes
//!   go through unchanged, so only the service's subjects need be known;
//!   **gRPC-Web** (`application/grpc-web…`, HTTP/1.1 too) likewise, for
//!   browsers;
//! * **HTTP/JSON** on the same paths (`POST`, or `GET` for an empty
//!   request), the body in protobuf's JSON mapping; streamed replies as
//!   newline-delimited JSON or server-sent events;
//! * a **web console** on `/` (services, instances and live stats from
//!   discovery; a form to call any method);
//! * **health** for probes: `grpc.health.v1.Health` and
//!   `GET /_nrpc/health`, serving while the NATS connection is up.
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

mod audit;
mod auth;
mod bridge;
mod browser;
mod budget;
mod call;
mod catalog;
mod console;
mod expose;
mod grpc;
mod health;
mod http;
mod limit;
mod reflection;
mod serve;
mod tap;
pub mod tls;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ::http::HeaderValue;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use nrpc_runtime::{Code, Connection};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer, ExposeHeaders};
use tracing::Instrument;

pub use crate::auth::{Auth, AuthError};
use crate::call::Failure;
use crate::catalog::Catalog;
pub use crate::expose::{Exposure, Pattern, PatternError};

/// The gateway's settings.
#[derive(Debug, Clone)]
struct Options {
    default_timeout: Duration,
    max_timeout: Duration,
    max_body: usize,
    /// Whether to serve the console; `None`: on a loopback listener only.
    console: Option<bool>,
    /// Whether the console (the gateway's own pages) may call.
    console_read_only: bool,
    /// Origins whose web pages may call: CORS answers for them, and the
    /// calls of other pages are refused.
    origins: browser::Origins,
    /// Host names requests may be sent to, if set.
    hosts: Option<Vec<String>>,
    /// How far an event subscriber may fall behind, in bytes.
    subscriber_buffer: usize,
    /// Whether to log a line per call.
    audit: bool,
    /// Plain-HTTP path prefixes forwarded to HTTP services over NATS.
    http_routes: Vec<bridge::Route>,
    /// Bytes of request bodies the gateway holds at most, all together.
    body_budget: usize,
    /// Connections open at most (default: from the descriptor limit).
    max_connections: Option<usize>,
    /// How long a connection may be idle.
    idle_timeout: Duration,
    /// How long a request's header may take to arrive.
    header_read_timeout: Duration,
    /// Whether callers' credentials (`Authorization`, `Cookie`,
    /// `X-Api-Key`) travel on to services.
    forward_credentials: bool,
}

/// What every request handler shares.
#[derive(Debug)]
struct Shared {
    catalog: Arc<Catalog>,
    options: Options,
    /// What all request bodies together may hold.
    budget: budget::Budget,
    /// Who may call, if anyone must say.
    auth: Option<Auth>,
    /// How often each caller may call each method, if limited.
    limits: Option<limit::RateLimits>,
    /// How many calls each caller may have in progress, if limited.
    in_progress: Option<limit::InProgress>,
}

/// Sets up a [`Gateway`].
#[derive(Debug)]
pub struct GatewayBuilder {
    conn: Connection,
    protos: Vec<PathBuf>,
    includes: Vec<PathBuf>,
    options: Options,
    exposure: Exposure,
    auth: Option<Auth>,
    limits: Option<limit::RateLimits>,
    in_progress: Option<limit::InProgress>,
    discovery_timeout: Duration,
    refresh_after: Duration,
    tls: Option<Arc<tls::rustls::ServerConfig>>,
    routes: axum::Router,
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

    /// Which services and methods callers may reach (all by default): the
    /// others are answered as if they did not exist — `404`/`UNIMPLEMENTED`
    /// on every face — and are absent from reflection and the console.
    pub fn expose(mut self, exposure: Exposure) -> Self {
        self.exposure = exposure;
        self
    }

    /// Callers must prove who they are ([`Auth`]: bearer JWTs, API keys,
    /// scope rules). Every call, reflection and the console's resources
    /// then need credentials (`401`/`UNAUTHENTICATED` without; `403`/
    /// `PERMISSION_DENIED` for a method whose scopes the caller lacks), and
    /// the verified caller reaches the service as
    /// [`nrpc_wire::caller`] headers (`Request::caller()`).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Limits how often each caller may call each method: `per_second`
    /// calls on average, up to `burst` at once (a token bucket per verified
    /// subject, or per client address for anonymous callers, and method).
    /// Past it, calls are `429`/`RESOURCE_EXHAUSTED` with `Retry-After`.
    pub fn rate_limit(mut self, per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        self.limits = Some(limit::RateLimits::new(per_second, burst));
        self
    }

    /// Limits how many calls each caller (verified subject, or client
    /// address) may have in progress at once — streams and event
    /// subscriptions count until they end. One more is
    /// `429`/`RESOURCE_EXHAUSTED` at once.
    pub fn max_calls_per_caller(mut self, n: NonZeroU32) -> Self {
        self.in_progress = Some(limit::InProgress::new(n));
        self
    }

    /// Sends callers' `Authorization`, `Cookie` and `X-Api-Key` headers on
    /// to the services (off: services learn the verified caller instead,
    /// and a credential never reaches a service it was not meant for).
    pub fn forward_credentials(mut self, forward: bool) -> Self {
        self.options.forward_credentials = forward;
        self
    }

    /// How many bytes of request bodies the gateway holds at most, all
    /// requests together (64 MiB); each request holds at most
    /// [`max_body`](Self::max_body) of it until its body has arrived.
    /// Bytes past it fail their request at once with `503`
    /// (`RESOURCE_EXHAUSTED`), so stalled uploads cannot pin more memory.
    pub fn body_budget(mut self, bytes: usize) -> Self {
        self.options.body_budget = bytes;
        self
    }

    /// How many connections are served at once (default: the process's
    /// descriptor limit less 128). One more is answered `503` and closed at
    /// once, so a flood of idle connections never stalls everyone.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.options.max_connections = Some(n);
        self
    }

    /// A connection with no request in progress that receives nothing for
    /// this long is closed (60 s).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.options.idle_timeout = idle;
        self
    }

    /// An HTTP/1.1 request's header must arrive within this (10 s), or
    /// the connection is closed (slowloris).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.options.header_read_timeout = timeout;
        self
    }

    /// Forwards plain HTTP (and HTTP/2) requests whose path is `prefix` or
    /// under it (`/city`, `/city/lisbon?x=1`) to the HTTP service served
    /// over NATS as `host` (`weather.nats`: nrpc-http or
    /// nats-roundtripper), path and query unchanged, with
    /// `X-Forwarded-For`, `-Proto` and `-Host`; the service's status,
    /// headers and body are the response (`503` when nothing serves the
    /// host, `504` past the call timeout, `413` when too large). Several
    /// routes may be given; the most specific prefix wins.
    pub fn http_route(
        mut self,
        prefix: &str,
        host: &str,
    ) -> Result<Self, nrpc_http::wire::WireError> {
        let host = nrpc_http::wire::check_host(host)?;
        let prefix = prefix.trim_end_matches('/');
        if !prefix.starts_with('/') || prefix.contains(['{', '}', '*']) {
            return Err(nrpc_http::wire::WireError::Request(format!(
                "the route prefix {prefix:?} is not a path like /city"
            )));
        }
        self.options.http_routes.push(bridge::Route {
            prefix: prefix.to_owned(),
            host,
        });
        Ok(self)
    }

    /// Logs one line per call when it has ended, on the
    /// `nrpc_gateway::audit` tracing target at `INFO`: the verified caller
    /// (or `-`), the client's address, the method's path, the HTTP status
    /// and the gRPC status code, and the duration (off by default).
    pub fn audit(mut self, on: bool) -> Self {
        self.options.audit = on;
        self
    }

    /// How many bytes of events the gateway holds for one HTTP subscriber
    /// that does not read them (8 MiB): one that falls further behind is
    /// cut off (its stream ends with a `RESOURCE_EXHAUSTED` error
    /// document), so a stalled subscriber costs at most this much.
    pub fn subscriber_buffer(mut self, bytes: usize) -> Self {
        self.options.subscriber_buffer = bytes;
        self
    }

    /// Whether to serve the web console on `/`. By default it is served
    /// when the gateway listens on a loopback address only (and by
    /// [`Gateway::router`]); set it to serve it elsewhere.
    pub fn console(mut self, on: bool) -> Self {
        self.options.console = Some(on);
        self
    }

    /// Serves the console read-only: it lists services, instances and
    /// methods, and cannot call (calls from the gateway's own pages are
    /// refused, `403`).
    pub fn console_read_only(mut self, read_only: bool) -> Self {
        self.options.console_read_only = read_only;
        self
    }

    /// Lets web pages from these origins (`https://app.example.com`) call
    /// the gateway from a browser — HTTP/JSON and gRPC-Web — by answering
    /// CORS requests from them. Without this (or
    /// [`allow_any_origin`](Self::allow_any_origin)) the gateway sends no
    /// CORS headers and browsers only let its own pages (the console) call.
    pub fn allow_origins(mut self, origins: impl IntoIterator<Item = HeaderValue>) -> Self {
        let origins: Vec<HeaderValue> = origins.into_iter().collect();
        self.options.origins = browser::Origins::List(origins);
        self
    }

    /// Lets a web page from any origin call the gateway (CORS
    /// `Access-Control-Allow-Origin: *`; browsers then send no cookies or
    /// credentials with those calls).
    pub fn allow_any_origin(mut self) -> Self {
        self.options.origins = browser::Origins::Any;
        self
    }

    /// The host names (`api.example.com`; no port) requests may be sent
    /// to: any other `Host` is refused (421), which stops DNS rebinding.
    /// Without this, a gateway [served](Gateway::serve) on a loopback
    /// address takes `localhost`, `127.0.0.1` and `[::1]`, and one on any
    /// other address every name.
    pub fn allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.hosts = Some(hosts.into_iter().map(Into::into).collect());
        self
    }

    /// Serves TLS (HTTPS, gRPC over TLS) with this configuration, e.g.
    /// from PEM files by [`tls::server_config`]; ALPN offers HTTP/2 and
    /// HTTP/1.1 unless the configuration names its own protocols.
    pub fn tls(mut self, mut config: tls::rustls::ServerConfig) -> Self {
        if config.alpn_protocols.is_empty() {
            config.alpn_protocols = tls::alpn();
        }
        self.tls = Some(Arc::new(config));
        self
    }

    /// More routes served beside the gateway's (metrics, checks of your
    /// own, …): a request they match is theirs, any other the gateway's
    /// (their own fallback, if any, is not used).
    pub fn routes(mut self, routes: axum::Router) -> Self {
        self.routes = self.routes.merge(routes);
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
            self.exposure,
            self.discovery_timeout,
            self.refresh_after,
        );
        Ok(Gateway {
            shared: Arc::new(Shared {
                catalog: Arc::new(catalog),
                budget: budget::Budget::new(self.options.body_budget),
                options: self.options,
                auth: self.auth,
                limits: self.limits,
                in_progress: self.in_progress,
            }),
            tls: self.tls,
            routes: self.routes,
        })
    }
}

/// The gateway: an [`axum::Router`] to serve, or to nest in an
/// application of your own.
#[derive(Debug, Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
    tls: Option<Arc<tls::rustls::ServerConfig>>,
    routes: axum::Router,
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
                console: None,
                console_read_only: false,
                origins: browser::Origins::Own,
                hosts: None,
                forward_credentials: false,
                subscriber_buffer: 8 << 20,
                audit: false,
                http_routes: Vec::new(),
                body_budget: 64 << 20,
                max_connections: None,
                idle_timeout: Duration::from_secs(60),
                header_read_timeout: Duration::from_secs(10),
            },
            auth: None,
            limits: None,
            in_progress: None,
            exposure: Exposure::default(),
            discovery_timeout: Duration::from_secs(2),
            refresh_after: Duration::from_secs(10),
            tls: None,
            routes: axum::Router::new(),
        }
    }

    /// Every route: [your own](GatewayBuilder::routes), the console's (if
    /// on) and health's, then calls on every other path; CORS answers for
    /// the allowed origins, if any.
    pub fn router(&self) -> axum::Router {
        let hosts = browser::Hosts(self.shared.options.hosts.clone().map(Arc::new));
        self.router_for(hosts, true)
    }

    /// The routes, with the console if it is asked for or, by default,
    /// if `loopback`.
    fn router_for(&self, hosts: browser::Hosts, loopback: bool) -> axum::Router {
        let shared = self.shared.clone();
        let mut router = axum::Router::new();
        if self.shared.options.console.unwrap_or(loopback) {
            router = console::routes(router, self.shared.clone());
        }
        let client = Arc::new(
            nrpc_http::HttpClient::new(self.shared.catalog.connection())
                .with_timeout(self.shared.options.default_timeout),
        );
        for route in &self.shared.options.http_routes {
            let host: Arc<str> = route.host.as_str().into();
            let (tls, max_body) = (self.tls.is_some(), self.shared.options.max_body);
            let client = client.clone();
            let forward = axum::routing::any(move |request: ::http::Request<Body>| {
                bridge::forward(client.clone(), host.clone(), tls, max_body, request)
            });
            router = match route.prefix.as_str() {
                "" => router.route("/{*rest}", forward.clone()),
                prefix => router
                    .route(prefix, forward.clone())
                    .route(&format!("{prefix}/{{*rest}}"), forward),
            };
        }
        let router = router
            .route(
                "/_nrpc/health",
                axum::routing::get(health::http).with_state(self.shared.catalog.clone()),
            )
            .fallback(move |request: ::http::Request<Body>| dispatch(shared.clone(), request));
        // Your routes first (no conflict to panic over), the gateway's after.
        let router = self
            .routes
            .clone()
            .fallback_service(router)
            .layer(axum::middleware::from_fn_with_state(hosts, browser::guard));
        match &self.shared.options.origins {
            browser::Origins::Own => router,
            browser::Origins::Any => router.layer(cors(AllowOrigin::any())),
            browser::Origins::List(list) => router.layer(cors(AllowOrigin::list(list.clone()))),
        }
    }

    /// Serves the [`router`](Self::router) on `listener` (HTTP/1.1 and
    /// HTTP/2; TLS if [configured](GatewayBuilder::tls)) until the process
    /// ends.
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
        let options = &self.shared.options;
        let limits = serve::Limits {
            max_connections: options
                .max_connections
                .unwrap_or_else(serve::default_max_connections),
            idle: options.idle_timeout,
            header_read: options.header_read_timeout,
        };
        let address = listener.local_addr()?;
        let hosts = match &options.hosts {
            Some(names) => browser::Hosts(Some(Arc::new(names.clone()))),
            None => browser::Hosts::of_listener(address),
        };
        let router = self.router_for(hosts, address.ip().is_loopback());
        if let Some(config) = self.tls {
            let listener = tls::TlsListener::new(listener, config)?;
            return serve::serve(listener, router, limits, shutdown).await;
        }
        serve::serve(Tcp(listener), router, limits, shutdown).await
    }
}

/// A client's address, recorded with each request (by [`serve`]) and
/// read by [`call::peer`].
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

/// A TCP listener whose connections send replies at once: Nagle's
/// algorithm would hold small RPC frames back for the peer's delayed ACK
/// (40 ms).
#[derive(Debug)]
struct Tcp(tokio::net::TcpListener);

impl axum::serve::Listener for Tcp {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, address) = axum::serve::Listener::accept(&mut self.0).await;
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("nrpc-gateway: TCP_NODELAY not set: {e}");
        }
        (stream, address)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// What browsers are told about cross-origin calls: the methods calls use,
/// whatever request headers the page sends (they become metadata), and
/// every reply header readable (statuses, gRPC-Web's `grpc-status`, the
/// service's own headers).
fn cors(origins: AllowOrigin) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([::http::Method::GET, ::http::Method::POST])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers(ExposeHeaders::any())
        .max_age(Duration::from_secs(3600))
}

/// A call: gRPC (or gRPC-Web) by its content type, else JSON; the path
/// names the service and method (and, for JSON, subject parameters after
/// them).
async fn dispatch(shared: Arc<Shared>, mut request: ::http::Request<Body>) -> Response {
    // A call's slot among its caller's calls in progress stays with its
    // response until that is done.
    let slot = shared.in_progress.as_ref().map(|_| {
        let holder = limit::SlotHolder::default();
        request.extensions_mut().insert(holder.clone());
        holder
    });
    let response = if shared.options.audit {
        let peer = call::peer(request.extensions());
        let (caller, pending) = audit::start(request.uri().path(), peer);
        request.extensions_mut().insert(caller);
        pending.finish(route(shared, request).await)
    } else {
        route(shared, request).await
    };
    match slot {
        Some(holder) => response.map(|body| tap::tap(body, holder)),
        None => response,
    }
}

/// A call to its door: gRPC (or gRPC-Web) by its content type, else JSON.
async fn route(shared: Arc<Shared>, request: ::http::Request<Body>) -> Response {
    let cap = shared.options.max_body;
    let request = request.map(|body| shared.budget.wrap(body, cap));
    let content_type = request
        .headers()
        .get(::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let own_pages_call = !shared.options.console_read_only;
    if let Err(refused) = browser::check_origin(&shared.options.origins, own_pages_call, &request) {
        return if content_type.starts_with("application/grpc") {
            refused.grpc().into_http()
        } else {
            refused.into_response()
        };
    }
    if content_type.starts_with("application/grpc-web") {
        return grpc_web(shared, request).await;
    }
    if content_type.starts_with("application/grpc") {
        return grpc_dispatch(shared, request).await;
    }
    let path = request.uri().path().to_owned();
    let mut segments = path.trim_start_matches('/').split('/');
    let (Some(service), Some(method)) = (segments.next(), segments.next()) else {
        return not_a_call(false, &path);
    };
    // Names as a browser sends them (`encodeURIComponent`).
    let (Some(service), Some(method)) = (percent_decode(service), percent_decode(method)) else {
        return Failure::new(
            Code::InvalidArgument,
            "the path is not UTF-8 once percent-decoded",
        )
        .into_response();
    };
    if service.is_empty() || method.is_empty() {
        return not_a_call(false, &path);
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
    if let Err(refused) = browser::check_json_post(&request) {
        return refused.into_response();
    }
    let span = call_span(&service, &method, request.headers());
    http::call(shared, &service, &method, positional, request)
        .instrument(span)
        .await
}

/// The span of one call through the gateway (the nrpc client's span is
/// its child); with feature `opentelemetry`, itself a child of the
/// caller's W3C trace context.
#[allow(unused_variables)]
fn call_span(service: &str, method: &str, headers: &::http::HeaderMap) -> tracing::Span {
    let span = tracing::info_span!(
        "nrpc.gateway",
        otel.kind = "server",
        rpc.system = "nrpc",
        rpc.service = service,
        rpc.method = method,
    );
    #[cfg(feature = "opentelemetry")]
    if !span.is_disabled() {
        use opentelemetry::propagation::Extractor;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        struct Extract<'a>(&'a ::http::HeaderMap);
        impl Extractor for Extract<'_> {
            fn get(&self, key: &str) -> Option<&str> {
                self.0.get(key).and_then(|v| v.to_str().ok())
            }
            fn keys(&self) -> Vec<&str> {
                self.0.keys().map(|k| k.as_str()).collect()
            }
        }
        let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Extract(headers)));
        let _ = span.set_parent(cx);
    }
    span
}

/// A gRPC call (or reflection): the path is `/<package>.<Service>/<Method>`.
async fn grpc_dispatch(shared: Arc<Shared>, request: ::http::Request<Body>) -> Response {
    let path = request.uri().path().to_owned();
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some(service), Some(method), None) if !service.is_empty() && !method.is_empty() => {
            if reflection::is_reflection(service) {
                if let Some(auth) = &shared.auth {
                    if let Err(refused) = auth.authenticate(request.headers(), request.extensions())
                    {
                        return refused.grpc().into_http();
                    }
                }
                reflect(shared, service, request).await
            } else if service == health::SERVICE {
                use tower::ServiceExt;
                let checks = health::server(shared.catalog.clone());
                match checks.oneshot(request).await {
                    Ok(response) => response.map(Body::new),
                    Err(never) => match never {},
                }
            } else {
                let span = call_span(service, method, request.headers());
                grpc::call(shared, service, method, request)
                    .instrument(span)
                    .await
            }
        }
        _ => not_a_call(true, &path),
    }
}

/// A gRPC-Web call, on HTTP/1.1 or HTTP/2: tonic-web turns it into a gRPC
/// call (and the reply's trailers into the body's last frame).
async fn grpc_web(shared: Arc<Shared>, request: ::http::Request<Body>) -> Response {
    use tower::{Layer, ServiceExt};
    let inner = tower::service_fn(move |request: ::http::Request<tonic::body::Body>| {
        let shared = shared.clone();
        async move {
            Ok::<_, std::convert::Infallible>(grpc_dispatch(shared, request.map(Body::new)).await)
        }
    });
    match tonic_web::GrpcWebLayer::new()
        .layer(inner)
        .oneshot(request)
        .await
    {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
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
