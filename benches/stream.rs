//! A long server stream: items/s, MB/s and the process's peak RSS
//! (client and server in one process), plus a bidirectional echo.
//!
//! ```text
//! cargo bench -p nrpc-examples --bench stream
//! ```

use std::error::Error;
use std::time::Instant;

use futures::StreamExt;
use nrpc_examples::chat::chat_client::ChatClient;
use nrpc_examples::chat::chat_server::{Chat, ChatServer};
use nrpc_examples::chat::{Sentence, Word};
use nrpc_examples::{peak_rss_mib, Nats};
use nrpc_runtime::{async_nats, futures};
use nrpc_runtime::{Connection, Request, Response, Server, Sink, Status, Streaming};

const ITEMS: usize = 1_000_000;
const ITEM_BYTES: usize = 64;

struct Producer;

impl Chat for Producer {
    async fn collect(&self, _: Request<Streaming<Word>>) -> Result<Response<Sentence>, Status> {
        Err(Status::unimplemented("bench"))
    }

    async fn echo(
        &self,
        request: Request<Streaming<Word>>,
        sink: Sink<Word>,
    ) -> Result<(), Status> {
        let mut incoming = request.into_inner();
        while let Some(w) = incoming.next().await {
            sink.send(&w?).await?;
        }
        Ok(())
    }

    async fn spell(&self, request: Request<Word>, sink: Sink<Word>) -> Result<(), Status> {
        // `text` is the item count; each item carries ITEM_BYTES of text.
        let n: usize = request.into_inner().text.parse().unwrap_or(0);
        let item = Word {
            text: "x".repeat(ITEM_BYTES),
        };
        for _ in 0..n {
            sink.send(&item).await?;
        }
        Ok(())
    }
}

fn report(what: &str, items: usize, bytes: usize, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{what:<22} {items:>9} items {:>10.0} items/s {:>8.1} MB/s   peak RSS {:>6.1} MiB",
        items as f64 / secs,
        bytes as f64 / secs / 1e6,
        peak_rss_mib()
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let nats = Nats::from_env()?;
    let server = Server::builder(&Connection::new(async_nats::connect(&nats.url).await?).await?)
        .add_service(ChatServer::new(Producer))
        .serve()
        .await?;
    let client = ChatClient::new(Connection::new(async_nats::connect(&nats.url).await?).await?);
    println!(
        "{ITEM_BYTES} B items, credit window {}",
        nrpc_wire::stream::DEFAULT_WINDOW
    );

    let start = Instant::now();
    let mut stream = client
        .spell(&Word {
            text: ITEMS.to_string(),
        })
        .await?;
    let mut n = 0;
    while let Some(item) = stream.next().await {
        item?;
        n += 1;
    }
    report("server stream", n, n * ITEM_BYTES, start);

    let start = Instant::now();
    let items = ITEMS / 4;
    let words = futures::stream::iter((0..items).map(|_| Word {
        text: "y".repeat(ITEM_BYTES),
    }));
    let mut replies = client.echo(words).await?;
    let mut n = 0;
    while let Some(item) = replies.next().await {
        item?;
        n += 1;
    }
    report("bidirectional echo", n, 2 * n * ITEM_BYTES, start);

    // The ceiling: the same number of 64 B messages published and received
    // with async-nats directly, no protocol.
    let (publisher, subscriber) = (
        async_nats::connect(&nats.url).await?,
        async_nats::connect(&nats.url).await?,
    );
    let mut sub = subscriber.subscribe("bench.raw.stream").await?;
    subscriber.flush().await?;
    let start = Instant::now();
    let payload = bytes::Bytes::from(vec![b'x'; ITEM_BYTES]);
    let sending = tokio::spawn(async move {
        for _ in 0..ITEMS {
            if publisher
                .publish("bench.raw.stream", payload.clone())
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = publisher.flush().await;
    });
    let mut n = 0;
    while n < ITEMS {
        if sub.next().await.is_none() {
            break;
        }
        n += 1;
    }
    report("raw NATS pub -> sub", n, n * ITEM_BYTES, start);
    sending.await?;

    server.shutdown().await;
    Ok(())
}
