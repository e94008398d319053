//! Streams: a server stream (`Spell`), a client stream (`Collect`) and a
//! bidirectional stream (`Echo`).
//!
//! ```text
//! cargo run -p nrpc-examples --bin chat
//! ```

use std::error::Error;

use nrpc_examples::chat::chat_client::ChatClient;
use nrpc_examples::chat::chat_server::{Chat, ChatServer};
use nrpc_examples::chat::{Sentence, Word};
use nrpc_examples::Nats;
use nrpc_runtime::futures::StreamExt;
use nrpc_runtime::{ConnectOptions, Request, Response, Server, Sink, Status, Streaming};

struct Service;

fn word(text: impl Into<String>) -> Word {
    Word { text: text.into() }
}

impl Chat for Service {
    async fn collect(
        &self,
        request: Request<Streaming<Word>>,
    ) -> Result<Response<Sentence>, Status> {
        let mut words = Vec::new();
        let mut incoming = request.into_inner();
        while let Some(w) = incoming.next().await {
            words.push(w?.text);
        }
        Ok(Response::new(Sentence {
            words: words.len() as u32,
            text: words.join(" "),
        }))
    }

    async fn echo(
        &self,
        request: Request<Streaming<Word>>,
        sink: Sink<Word>,
    ) -> Result<(), Status> {
        let mut incoming = request.into_inner();
        while let Some(w) = incoming.next().await {
            // `send` waits while the client has granted no credit.
            sink.send(&word(w?.text.to_uppercase())).await?;
        }
        Ok(())
    }

    async fn spell(&self, request: Request<Word>, sink: Sink<Word>) -> Result<(), Status> {
        for c in request.into_inner().text.chars() {
            sink.send(&word(c.to_string())).await?;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let nats = Nats::from_env()?;
    let conn = ConnectOptions::new().servers(&nats.url).connect().await?;
    let server = Server::builder(&conn)
        .add_service(ChatServer::new(Service))
        .serve()
        .await?;
    let client = ChatClient::new(conn);

    // Server stream: one request, many replies.
    // ANCHOR: server_stream
    let mut letters = client.spell(&word("nats")).await?;
    let mut spelled = Vec::new();
    while let Some(letter) = letters.next().await {
        spelled.push(letter?.text);
    }
    println!("spell: {}", spelled.join("-"));

    // Enough after two letters: cancel, and know the server was told
    // before going on (dropping the stream also cancels, in the background).
    let mut letters = client.spell(&word("cancellation")).await?;
    let first_two = [letters.next().await, letters.next().await];
    letters.cancel().await;
    println!(
        "cancelled after {} letters",
        first_two.iter().flatten().count()
    );
    // ANCHOR_END: server_stream

    // Client stream: many requests, one reply.
    // ANCHOR: client_stream
    let words = nrpc_runtime::futures::stream::iter(["subjects", "are", "addresses"].map(word));
    let sentence = client.collect(words).await?;
    println!("collect: {:?} ({} words)", sentence.text, sentence.words);
    // ANCHOR_END: client_stream

    // Bidirectional: replies arrive while requests are still being sent.
    // ANCHOR: bidi
    let words = nrpc_runtime::futures::stream::iter((1..=5).map(|i| word(format!("ping {i}"))));
    let mut replies = client.echo(words).await?;
    while let Some(reply) = replies.next().await {
        println!("echo: {}", reply?.text);
    }
    // ANCHOR_END: bidi

    server.shutdown().await;
    Ok(())
}
