//! Go's helloworld served and called over NATS, by a crate that knows the
//! nrpc crates only as packages.

mod helloworld {
    include!(concat!(env!("OUT_DIR"), "/helloworld.rs"));
}

use helloworld::greeter_client::GreeterClient;
use helloworld::greeter_server::{Greeter, GreeterServer};
use helloworld::{HelloReply, HelloRequest};
use nrpc_runtime::{Request, Response, Server, Status};

struct Hello;

impl Greeter for Hello {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let message = format!("Hello, {}!", request.into_inner().name);
        Ok(Response::new(HelloReply { message }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conn = nrpc_runtime::connect().await?;
    let server = Server::builder(&conn)
        .add_service(GreeterServer::new(Hello))
        .serve()
        .await?;
    let reply = GreeterClient::new(conn)
        .say_hello(&HelloRequest {
            name: "packages".into(),
        })
        .await?;
    println!("{}", reply.message);
    server
        .shutdown_timeout(std::time::Duration::from_secs(5))
        .await;
    Ok(())
}
