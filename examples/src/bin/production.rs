//! A greeter service shaped like a production deployment: configured only
//! by the environment, with logs, Prometheus metrics, a tower layer, a
//! subject prefix and graceful shutdown on SIGTERM.
//!
//! ```text
//! NATS_URL=nats://127.0.0.1:4222 NRPC_PREFIX=canary RUST_LOG=info \
//! METRICS_ADDR=127.0.0.1:9464 cargo run -p nrpc-examples --bin production
//! ```
//!
//! * NATS: everything `nrpc_runtime::connect()` reads (`NATS_URL`,
//!   `NATS_CONTEXT`, `NATS_CREDS`, TLS files, `NRPC_PREFIX`, …).
//! * Logs: `RUST_LOG` (default `info`); one line per failed call, spans
//!   per call at `RUST_LOG=nrpc_runtime=debug` with a span-aware formatter.
//! * Metrics: `http://$METRICS_ADDR/metrics` (default `127.0.0.1:9464`).
//! * Stops on SIGTERM or Ctrl-C: no new requests, in-flight ones get 10 s.

use std::error::Error;
use std::time::Duration;

use axum::routing::get;
use metrics_exporter_prometheus::PrometheusBuilder;
use nrpc_examples::greeter::greeter_server::{Greeter, GreeterServer};
use nrpc_examples::greeter::{EchoMessage, FailRequest, HelloReply, HelloRequest};
use nrpc_runtime::{Code, Request, Response, Server, Status};
use tokio::signal::unix::{signal, SignalKind};

struct MyGreeter;

impl Greeter for MyGreeter {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let name = request.into_inner().name;
        if name.is_empty() {
            return Err(Status::invalid_argument("name must not be empty"));
        }
        Ok(Response::new(HelloReply {
            message: format!("Hello, {name}!"),
        }))
    }

    async fn fail(&self, request: Request<FailRequest>) -> Result<Response<()>, Status> {
        let req = request.into_inner();
        Err(Status::new(
            Code::from_i32(req.code).unwrap_or(Code::Unknown),
            req.message,
        ))
    }

    async fn echo(&self, request: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        Ok(Response::new(request.into_inner()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    // Metrics first: nrpc makes its metric handles when servers and
    // clients are built.
    let metrics = PrometheusBuilder::new().install_recorder()?;
    let addr = std::env::var("METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:9464".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let metrics_url = format!("http://{}/metrics", listener.local_addr()?);
    let app = axum::Router::new().route("/metrics", get(move || async move { metrics.render() }));
    tokio::spawn(async move { axum::serve(listener, app).await });

    // ANCHOR: serve
    let conn = nrpc_runtime::connect().await?;
    let handle = Server::builder(&conn)
        .version(env!("CARGO_PKG_VERSION"))
        // No handler may take longer than this, whatever the caller allows.
        .layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(30)))
        .add_service(GreeterServer::new(MyGreeter))
        .serve()
        .await?;
    // ANCHOR_END: serve
    println!(
        "serving greeter.v1.Greeter as instance {} (subject prefix {:?}); metrics on {metrics_url}",
        handle.instance_id(),
        conn.subject_prefix()
    );

    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    println!("shutting down: no new requests, in-flight ones get 10 s");
    let clean = handle.shutdown_timeout(Duration::from_secs(10)).await;
    println!(
        "shut down {}",
        if clean {
            "cleanly"
        } else {
            "with requests cut off"
        }
    );
    Ok(())
}
