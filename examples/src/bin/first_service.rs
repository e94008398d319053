//! The README's first service, whole: a greeter served and called over the
//! NATS server that `NATS_URL` (or a NATS context) names.
//!
//! ```text
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p nrpc-examples --bin first_service
//! ```
//!
//! The README shows it in pieces (the regions between `ANCHOR` comments; a
//! test checks they match). CI also builds it as `.ci/consumer`, a crate
//! outside the workspace that takes the nrpc crates from their packages.

use std::time::Duration;

// ANCHOR: module
pub mod greeter {
    include!(concat!(env!("OUT_DIR"), "/greeter.v1.rs"));
}
// ANCHOR_END: module

// ANCHOR: server
use greeter::greeter_server::{Greeter, GreeterServer};
use greeter::{EchoMessage, FailRequest, HelloReply, HelloRequest};
use nrpc_runtime::{Request, Response, Server, Status};

struct MyGreeter;

impl Greeter for MyGreeter {
    async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let name = req.into_inner().name;
        Ok(Response::new(HelloReply {
            message: format!("Hello, {name}!"),
        }))
    }
    async fn fail(&self, _: Request<FailRequest>) -> Result<Response<()>, Status> {
        Err(Status::not_found("no such greeting"))
    }
    async fn echo(&self, req: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        Ok(Response::new(req.into_inner()))
    }
}
// ANCHOR_END: server

// ANCHOR: client_use
use greeter::greeter_client::GreeterClient;
use nrpc_runtime::{CallError, CallOptions};
// ANCHOR_END: client_use

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // ANCHOR: serve
    // NATS_URL (credentials in it too), NATS_CREDS, NATS_CONTEXT …, as the
    // `nats` CLI reads them; or ConnectOptions in code.
    let conn = nrpc_runtime::connect().await?;
    let handle = Server::builder(&conn)
        .queue_group("q") // the default; .no_queue_group() for none
        .max_concurrent_requests(1024) // the default; past it: SERVERTOOBUSY
        .add_service(GreeterServer::new(MyGreeter))
        .serve()
        .await?;
    // ANCHOR_END: serve

    // ANCHOR: client
    let client = GreeterClient::new(conn.clone()).with_timeout(Duration::from_secs(2));
    let req = HelloRequest {
        name: "world".into(),
    };
    let reply = client.say_hello(&req).await?;
    println!("{}", reply.message);

    // Per-call options; the reply keeps its metadata headers.
    let options = CallOptions::new()
        .timeout(Duration::from_millis(200))
        .header("Tenant", "acme");
    let reply = client.say_hello_with(&req, options).await?;
    println!("{} (again, as tenant acme)", reply.get_ref().message);

    match client.fail(&FailRequest::default()).await {
        Err(CallError::Status(status)) => println!("{}: {}", status.code(), status.message()),
        Err(CallError::Timeout(_) | CallError::NoResponders { .. }) => println!("nobody answered"),
        other => println!("unexpected: {other:?}"),
    }
    // ANCHOR_END: client

    // ANCHOR: shutdown
    // … on SIGTERM: stop taking requests, give in-flight ones 10 s, flush;
    // returns within the 10 s even while the broker is unreachable.
    handle.shutdown_timeout(Duration::from_secs(10)).await;
    // ANCHOR_END: shutdown
    Ok(())
}
