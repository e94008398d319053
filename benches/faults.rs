//! What a user sees when the broker fails under load: calls by outcome,
//! how late any call ended past its deadline, how long until calls work
//! again, and how streams end across a broker restart.
//!
//! ```text
//! cargo bench -p nrpc-examples --bench faults
//! ```
//!
//! Starts its own nats-server (it must restart it); 64 callers make echo
//! calls with a 250 ms timeout for 6 s; the broker is killed at 2 s and
//! started again on the same port at 3 s. Then 5 streams of 200,000 items
//! each see a broker restart, and a client floods a request stream beyond
//! its credit (peak RSS shows memory stays bounded).

use std::collections::BTreeMap;
use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use nats_harness::NatsServer;
use nrpc_examples::chat::chat_client::ChatClient;
use nrpc_examples::chat::chat_server::{Chat, ChatServer};
use nrpc_examples::chat::{Sentence, Word};
use nrpc_examples::greeter::greeter_client::GreeterClient;
use nrpc_examples::greeter::greeter_server::{Greeter, GreeterServer};
use nrpc_examples::greeter::{EchoMessage, FailRequest, HelloReply, HelloRequest};
use nrpc_examples::peak_rss_mib;
use nrpc_runtime::{async_nats, futures};
use nrpc_runtime::{CallError, Connection, Request, Response, Server, Sink, Status, Streaming};
use tokio::time::Instant;

const CALLERS: usize = 64;
const TIMEOUT: Duration = Duration::from_millis(250);
const RUN: Duration = Duration::from_secs(6);
const KILL_AT: Duration = Duration::from_secs(2);
const RESTART_AT: Duration = Duration::from_secs(3);
const STREAM_ITEMS: u32 = 200_000;

struct Echo;

impl Greeter for Echo {
    async fn say_hello(&self, _: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        Err(Status::unimplemented("echo only"))
    }
    async fn fail(&self, _: Request<FailRequest>) -> Result<Response<()>, Status> {
        Err(Status::unimplemented("echo only"))
    }
    async fn echo(&self, request: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        Ok(Response::new(request.into_inner()))
    }
}

/// Spells `count:N` as N words `0`…`N-1`.
struct Counter;

impl Chat for Counter {
    /// Reads one word, then nothing: whatever the client sends beyond its
    /// credit must be refused, not buffered.
    async fn collect(
        &self,
        request: Request<Streaming<Word>>,
    ) -> Result<Response<Sentence>, Status> {
        let mut words = request.into_inner();
        let _ = words.next().await;
        std::future::pending().await
    }
    async fn echo(&self, _: Request<Streaming<Word>>, _: Sink<Word>) -> Result<(), Status> {
        Err(Status::unimplemented("spell only"))
    }
    async fn spell(&self, request: Request<Word>, sink: Sink<Word>) -> Result<(), Status> {
        let n: u32 = request.into_inner().text.parse().unwrap_or(0);
        for i in 0..n {
            sink.send(&Word {
                text: i.to_string(),
            })
            .await?;
        }
        Ok(())
    }
}

fn outcome(result: &Result<EchoMessage, CallError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(CallError::Timeout(_)) => "timeout",
        Err(CallError::NotConnected) => "not connected (not sent)",
        Err(CallError::ConnectionLost) => "connection lost (outcome unknown)",
        Err(CallError::NoResponders { .. }) => "no responders",
        Err(CallError::Status(_)) => "error status",
        Err(_) => "other",
    }
}

/// Updates a shared value (the lock is never held across an await).
fn record<T>(value: &Mutex<T>, update: impl FnOnce(&mut T)) {
    update(&mut value.lock().unwrap_or_else(|e| e.into_inner()));
}

async fn restart(server: NatsServer) -> NatsServer {
    tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.restart().expect("restart nats-server");
        server
    })
    .await
    .expect("restart task")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut broker = Some(NatsServer::start()?);
    let url = broker.as_ref().map(NatsServer::url).unwrap_or_default();
    let _server = Server::builder(&Connection::new(async_nats::connect(&url).await?).await?)
        .add_service(GreeterServer::new(Echo))
        .add_service(ChatServer::new(Counter))
        .serve()
        .await?;
    let conn = Connection::new(async_nats::connect(&url).await?).await?;
    let client = GreeterClient::new(conn.clone()).with_timeout(TIMEOUT);

    let start = Instant::now();
    let counts: Arc<Mutex<BTreeMap<&'static str, u64>>> = Default::default();
    let worst_late = Arc::new(Mutex::new(Duration::ZERO));
    let first_ok_after_restart = Arc::new(Mutex::new(None::<Instant>));
    let restarted_at = Arc::new(Mutex::new(None::<Instant>));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (client, counts, worst_late) = (client.clone(), counts.clone(), worst_late.clone());
            let (first_ok, restarted_at) = (first_ok_after_restart.clone(), restarted_at.clone());
            tokio::spawn(async move {
                let msg = EchoMessage {
                    payload: Bytes::from_static(b"0123456789abcdef"),
                };
                while start.elapsed() < RUN {
                    let began = Instant::now();
                    let result = client.echo(&msg).await;
                    let took = began.elapsed();
                    record(&worst_late, |w| *w = (*w).max(took.saturating_sub(TIMEOUT)));
                    if result.is_ok() {
                        let restarted = *restarted_at.lock().unwrap_or_else(|e| e.into_inner());
                        record(&first_ok, |first| {
                            if restarted.is_some() && first.is_none() {
                                *first = Some(Instant::now());
                            }
                        });
                    }
                    record(&counts, |c| *c.entry(outcome(&result)).or_default() += 1);
                    if !matches!(result, Ok(_) | Err(CallError::Timeout(_))) {
                        // Fail-fast outcomes come back at once: don't spin.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep_until(start + KILL_AT).await;
    if let Some(b) = broker.as_mut() {
        b.stop();
    }
    tokio::time::sleep_until(start + RESTART_AT).await;
    let b = restart(broker.take().expect("broker")).await;
    *restarted_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    broker = Some(b);
    for c in callers {
        c.await?;
    }
    let restarted = (*restarted_at.lock().unwrap_or_else(|e| e.into_inner())).unwrap_or(start);
    let recovery = (*first_ok_after_restart
        .lock()
        .unwrap_or_else(|e| e.into_inner()))
    .map(|t| t.duration_since(restarted));

    println!(
        "unary: {CALLERS} callers, {TIMEOUT:?} timeout, {RUN:?}; broker killed at {KILL_AT:?}, restarted at {RESTART_AT:?}"
    );
    let counts = counts.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let total: u64 = counts.values().sum();
    for (kind, n) in &counts {
        println!("  {kind:<36} {n:>9}");
    }
    println!("  {:<36} {total:>9}", "calls");
    println!(
        "  latest end past the deadline         {:>9.1?}",
        *worst_late.lock().unwrap_or_else(|e| e.into_inner())
    );
    match recovery {
        Some(r) => println!("  first success after the restart      {r:>9.1?}"),
        None => println!("  first success after the restart           none"),
    }

    // Streams across a restart.
    let chat = ChatClient::new(conn).with_timeout(Duration::from_secs(5));
    let mut endings: BTreeMap<String, u32> = BTreeMap::new();
    for trial in 0..5u32 {
        let word = Word {
            text: STREAM_ITEMS.to_string(),
        };
        let mut stream = chat.spell(&word).await?;
        let mut next = 0u32;
        let restart_after = 20_000 + trial * 30_000;
        let ending = loop {
            match stream.next().await {
                None if next == STREAM_ITEMS => break "complete, every item in order".to_owned(),
                None => break format!("SILENT LOSS after {next} items"),
                Some(Err(e)) => {
                    break match e {
                        CallError::DataLoss { .. } => "data loss, reported at once".to_owned(),
                        CallError::Timeout(_) => "timeout (end not confirmed)".to_owned(),
                        other => format!("error: {other}"),
                    }
                }
                Some(Ok(w)) => {
                    if w.text != next.to_string() {
                        break format!("SILENT GAP at item {next}");
                    }
                    next += 1;
                    if next == restart_after {
                        broker = Some(restart(broker.take().expect("broker")).await);
                    }
                }
            }
        };
        *endings.entry(ending).or_default() += 1;
    }
    println!("streams: 5 × {STREAM_ITEMS} items, broker restarted mid-stream");
    for (ending, n) in &endings {
        println!("  {ending:<36} {n:>9}");
    }
    // A client that ignores credit floods a request stream with 1 KiB
    // items; the service ends the call and memory stays bounded.
    let url = broker.as_ref().map(NatsServer::url).unwrap_or_default();
    let before = peak_rss_mib();
    let flood = flood_collect(&url, 100_000).await?;
    println!("request stream flooded beyond credit: 100,000 × 1 KiB items");
    println!("  outcome                              {flood}");
    println!(
        "  peak RSS of the process              {:>6.1} MiB (before: {before:.1} MiB)",
        peak_rss_mib()
    );
    drop(broker);
    Ok(())
}

/// Opens `chat.Chat.Collect` by hand and sends `n` items without waiting
/// for credit; returns how the service answered.
async fn flood_collect(url: &str, n: usize) -> Result<String, Box<dyn Error>> {
    use nrpc_runtime::HeaderMap;
    let raw = async_nats::connect(url).await?;
    let reply = raw.new_inbox();
    let mut replies = raw.subscribe(reply.clone()).await?;
    let mut h = HeaderMap::new();
    h.insert("Nrpc-Stream-Credit", "1024");
    raw.publish_with_reply_and_headers("chat.Chat.Collect", reply, h, Bytes::new())
        .await?;
    let accept = replies.next().await.ok_or("no accept")?;
    let inbox = accept
        .headers
        .as_ref()
        .and_then(|h| h.get("Nrpc-Stream-Inbox"))
        .ok_or("no stream inbox")?
        .as_str()
        .to_owned();
    let word = nrpc_runtime::prost::Message::encode_to_vec(&Word {
        text: "x".repeat(1024),
    });
    for _ in 0..n {
        raw.publish(inbox.clone(), word.clone().into()).await?;
    }
    raw.flush().await?;
    while let Some(msg) = replies.next().await {
        if let Some(code) = msg.headers.as_ref().and_then(|h| h.get("Nrpc-Code")) {
            let text = msg
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Service-Error"))
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default();
            return Ok(format!("code {} ({text})", code.as_str()));
        }
    }
    Ok("no answer".into())
}
