//! Durable delivery against raw async-nats JetStream doing the same work,
//! in one run, against one nats-server with JetStream (file store):
//!
//! * publish: 50,000 messages of 64 B with a message id, 64 publishers
//!   each awaiting its acknowledgement — `Durable::publish` and async-nats'
//!   `send_publish` + its ack — and, for reference, one raw publisher
//!   pipelining 256 acks;
//! * consume: 50,000 stored messages handled (an empty handler) and acked
//!   — `Durable::consume` (256 at once) and a raw pull consumer's
//!   `messages()` acking each.
//!
//! ```text
//! cargo bench -p nrpc-examples --bench durable
//! ```
//!
//! Prints messages/s and the process's resident memory after each row.

use std::error::Error;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nrpc_runtime::async_nats::jetstream::{self, consumer::pull, message::PublishMessage};
use nrpc_runtime::durable::{ConsumerSpec, Durability, Durable, Policy, Start, StreamShape};
use nrpc_runtime::futures::stream::FuturesUnordered;
use nrpc_runtime::futures::StreamExt;
use nrpc_runtime::{async_nats, ConnectOptions};

const N: usize = 50_000;
const PUBLISHERS: usize = 64;
const PIPELINE: usize = 256;

fn row(what: &str, took: Duration) {
    println!(
        "{what:<40} {:>10.0} msg/s   RSS {:>6.1} MiB",
        N as f64 / took.as_secs_f64(),
        nrpc_examples::bench::rss() / (1 << 20) as f64
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let server = nats_harness::NatsServer::start_jetstream()?;
    let conn = ConnectOptions::new()
        .ignore_environment()
        .servers(server.url())
        .connect()
        .await?;
    let durable = Durable::new(&conn);
    let js = jetstream::new(async_nats::connect(server.url()).await?);
    let policy = Policy::default();
    for name in ["PUB_RAW", "PUB_NRPC", "PUB_PIPE", "CON_RAW", "CON_NRPC"] {
        let subject = format!("{}.do", name.to_lowercase());
        let shape = StreamShape::of(Durability::Command, &subject, &policy);
        durable.provision_stream(name, &shape, false).await?;
    }
    let payload = bytes::Bytes::from(vec![b'x'; 64]);
    println!("{N} messages of 64 B, JetStream file store, one process, 2 cores");

    // Publishing, each publisher awaiting each ack.
    let started = Instant::now();
    let tasks: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let (js, payload) = (js.clone(), payload.clone());
            tokio::spawn(async move {
                for i in (p..N).step_by(PUBLISHERS) {
                    let message = PublishMessage::build()
                        .payload(payload.clone())
                        .message_id(format!("r{i}"));
                    js.send_publish("pub_raw.do", message)
                        .await
                        .expect("publish")
                        .await
                        .expect("ack");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    row("publish: raw async-nats, 64 tasks", started.elapsed());

    let started = Instant::now();
    let tasks: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let (durable, payload) = (durable.clone(), payload.clone());
            tokio::spawn(async move {
                for i in (p..N).step_by(PUBLISHERS) {
                    durable
                        .publish(
                            "pub_nrpc.do",
                            None,
                            payload.clone(),
                            &format!("n{i}"),
                            Duration::from_secs(30),
                        )
                        .await
                        .expect("publish");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    row("publish: nrpc Durable, 64 tasks", started.elapsed());

    let started = Instant::now();
    fill(&js, "pub_pipe.do", &payload).await?;
    row("publish: raw, one task, 256 acks ahead", started.elapsed());

    // Consuming.
    fill(&js, "con_raw.do", &payload).await?;
    fill(&js, "con_nrpc.do", &payload).await?;
    let started = Instant::now();
    let consumer: jetstream::consumer::PullConsumer = js
        .get_stream("CON_RAW")
        .await?
        .get_or_create_consumer(
            "raw",
            pull::Config {
                durable_name: Some("raw".into()),
                filter_subject: "con_raw.do".into(),
                max_ack_pending: 512,
                ..Default::default()
            },
        )
        .await?;
    let mut messages = consumer.messages().await?;
    let mut handled = 0;
    while handled < N {
        match messages.next().await.expect("a message") {
            Ok(message) => {
                message.ack().await.map_err(|e| e.to_string())?;
                handled += 1;
            }
            // async-nats' own stream gives up on a missed heartbeat when
            // the machine is loaded: start it again, as a user would.
            Err(e) => {
                eprintln!("raw consumer: {e}; pulling again");
                messages = consumer.messages().await?;
            }
        }
    }
    row("consume: raw pull consumer, ack each", started.elapsed());

    let started = Instant::now();
    let count = Arc::new(AtomicUsize::new(0));
    let (done, all) = tokio::sync::oneshot::channel();
    let done = std::sync::Mutex::new(Some(done));
    let counting = count.clone();
    let consumer = durable
        .consume(
            ConsumerSpec {
                service: "bench.v1.Bench".into(),
                stream: "CON_NRPC".into(),
                consumer: "nrpc".into(),
                subject: "con_nrpc.do".into(),
                policy: Policy {
                    concurrency: 256,
                    ..Policy::default()
                },
                start: Start::All,
            },
            move |_delivery| {
                if counting.fetch_add(1, Ordering::Relaxed) + 1 == N {
                    if let Some(done) = done.lock().ok().and_then(|mut d| d.take()) {
                        let _ = done.send(());
                    }
                }
                async { Ok(()) }
            },
        )
        .await?;
    all.await?;
    row("consume: nrpc Durable, 256 at once", started.elapsed());
    consumer.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

/// Publishes N messages to `subject`, 256 acks outstanding at a time.
async fn fill(
    js: &jetstream::Context,
    subject: &'static str,
    payload: &bytes::Bytes,
) -> Result<(), Box<dyn Error>> {
    let mut acks = FuturesUnordered::new();
    for i in 0..N {
        let message = PublishMessage::build()
            .payload(payload.clone())
            .message_id(format!("{subject}{i}"));
        acks.push(std::future::IntoFuture::into_future(
            js.send_publish(subject, message).await?,
        ));
        if acks.len() >= PIPELINE {
            acks.next().await.expect("an ack")?;
        }
    }
    while let Some(ack) = acks.next().await {
        ack?;
    }
    Ok(())
}
