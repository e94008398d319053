//! Memory per open stream and per in-flight call: the growth of this
//! process's resident memory (client and server both live here) while
//! 1,000 server streams are open (each has sent one item and waits), then
//! while 10,000 unary calls wait in their handler.
//!
//! ```text
//! cargo bench -p nrpc-examples --bench memory
//! ```

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use nrpc_examples::chat::chat_client::ChatClient;
use nrpc_examples::chat::chat_server::{Chat, ChatServer};
use nrpc_examples::chat::{Sentence, Word};
use nrpc_examples::greeter::greeter_client::GreeterClient;
use nrpc_examples::greeter::greeter_server::{Greeter, GreeterServer};
use nrpc_examples::greeter::{EchoMessage, FailRequest, HelloReply, HelloRequest};
use nrpc_examples::Nats;
use nrpc_runtime::futures::StreamExt;
use nrpc_runtime::{async_nats, Connection, Request, Response, Server, Sink, Status, Streaming};
use tokio::sync::Semaphore;

const CALLS: usize = 10_000;
const STREAMS: usize = 1_000;

/// Handlers that wait at a gate until the bench opens it.
#[derive(Clone)]
struct Parked(Arc<Semaphore>);

impl Parked {
    async fn wait(&self) -> Result<(), Status> {
        self.0
            .acquire()
            .await
            .map(|permit| permit.forget())
            .map_err(|_| Status::internal("gate closed"))
    }
}

impl Greeter for Parked {
    async fn say_hello(&self, r: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        self.wait().await?;
        Ok(Response::new(HelloReply {
            message: r.into_inner().name,
        }))
    }

    async fn fail(&self, _: Request<FailRequest>) -> Result<Response<()>, Status> {
        Err(Status::unimplemented("memory bench"))
    }

    async fn echo(&self, r: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        Ok(Response::new(r.into_inner()))
    }
}

impl Chat for Parked {
    async fn collect(&self, _: Request<Streaming<Word>>) -> Result<Response<Sentence>, Status> {
        Err(Status::unimplemented("memory bench"))
    }

    async fn echo(&self, _: Request<Streaming<Word>>, _: Sink<Word>) -> Result<(), Status> {
        Err(Status::unimplemented("memory bench"))
    }

    async fn spell(&self, request: Request<Word>, sink: Sink<Word>) -> Result<(), Status> {
        sink.send(&request.into_inner()).await?;
        self.wait().await
    }
}

use nrpc_examples::bench::rss;

/// Waits (polling) until `ready` holds.
async fn until(mut ready: impl FnMut() -> bool) {
    while !ready() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let nats = Nats::from_env()?;
    let gate = Arc::new(Semaphore::new(0));
    let parked = Parked(gate.clone());
    let server = Server::builder(&Connection::new(async_nats::connect(&nats.url).await?).await?)
        .max_concurrent_requests(CALLS + STREAMS + 16)
        .add_service(GreeterServer::new(parked.clone()))
        .add_service(ChatServer::new(parked))
        .serve()
        .await?;
    let conn = Connection::new(async_nats::connect(&nats.url).await?).await?;
    let greeter = GreeterClient::new(conn.clone()).with_timeout(Duration::from_secs(120));
    let chat = ChatClient::new(conn);
    // Warm up both paths so their one-time allocations are not counted.
    for _ in 0..100 {
        greeter
            .echo(&EchoMessage {
                payload: vec![0; 16].into(),
            })
            .await?;
    }

    // Streams first: memory freed by the calls would be reused and hide
    // what the streams take.
    let before = rss();
    let mut streams = Vec::new();
    for i in 0..STREAMS {
        let mut stream = chat
            .spell(&Word {
                text: i.to_string(),
            })
            .await?;
        stream.next().await.ok_or("stream ended")??;
        streams.push(stream);
    }
    let per_stream = (rss() - before) / STREAMS as f64;
    gate.add_permits(STREAMS);
    for mut stream in streams {
        while let Some(item) = stream.next().await {
            item?;
        }
    }
    println!("{STREAMS} server streams open: {per_stream:.0} B each (client + server)");
    let before = rss();
    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let greeter = greeter.clone();
            tokio::spawn(async move {
                greeter
                    .say_hello(&HelloRequest {
                        name: i.to_string(),
                    })
                    .await
            })
        })
        .collect();
    until(|| server.in_flight() >= CALLS).await;
    let per_call = (rss() - before) / CALLS as f64;
    gate.add_permits(CALLS);
    for call in calls {
        call.await??;
    }
    println!("{CALLS} unary calls in flight: {per_call:.0} B each (client + server)");

    server.shutdown().await;
    Ok(())
}
