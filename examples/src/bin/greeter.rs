//! A greeter server and client in one process.
//!
//! ```text
//! cargo run -p nrpc-examples --bin greeter -- [name]
//! ```

use std::error::Error;
use std::time::Duration;

use nrpc_examples::greeter::greeter_client::GreeterClient;
use nrpc_examples::greeter::greeter_server::{Greeter, GreeterServer};
use nrpc_examples::greeter::{EchoMessage, FailRequest, HelloReply, HelloRequest};
use nrpc_examples::Nats;
use nrpc_runtime::{CallError, Code, ConnectOptions, Request, Response, Server, Status};

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
        let code = Code::from_i32(req.code).unwrap_or(Code::Unknown);
        Err(Status::new(code, req.message))
    }

    async fn echo(&self, request: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        Ok(Response::new(request.into_inner()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let nats = Nats::from_env()?;
    let name = std::env::args().nth(1).unwrap_or_else(|| "world".into());

    // One connection (credentials from the URL or the environment, as the
    // `nats` CLI reads them) carries the server and every call.
    let conn = ConnectOptions::new().servers(&nats.url).connect().await?;

    // Server: queue group "q", served until shutdown.
    let server = Server::builder(&conn)
        .add_service(GreeterServer::new(MyGreeter))
        .serve()
        .await?;

    let client = GreeterClient::new(conn);

    let reply = client.say_hello(&HelloRequest { name }).await?;
    println!("{}", reply.message);

    let failing = FailRequest {
        code: Code::NotFound.as_i32(),
        message: "no such greeting".into(),
    };
    match client.fail(&failing).await {
        Err(CallError::Status(status)) => println!("Fail answered {status}"),
        other => println!("Fail answered unexpectedly: {other:?}"),
    }

    server.shutdown_timeout(Duration::from_secs(10)).await;
    Ok(())
}
