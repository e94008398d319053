//! Unary echo throughput and latency: raw async-nats request/reply vs nrpc,
//! at 1, 16 and 256 calls in flight on one client connection.
//!
//! ```text
//! cargo bench -p nrpc-examples --bench unary
//! ```
//!
//! Uses `$NATS_URL` or starts a local nats-server. Prints one line per
//! (mode, in-flight) pair: calls/s, p50 and p99 latency. `nrpc client` is
//! the generated client against a raw responder, `nrpc server` a raw
//! async-nats client against the nrpc server.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use nrpc_examples::bench::Echo;
use nrpc_examples::greeter::greeter_client::GreeterClient;
use nrpc_examples::greeter::greeter_server::GreeterServer;
use nrpc_examples::greeter::EchoMessage;
use nrpc_examples::Nats;
use nrpc_runtime::{async_nats, futures};
use nrpc_runtime::{Connection, Server};

const PAYLOAD: usize = 128;
const RUN: Duration = Duration::from_secs(3);
const WARMUP: Duration = Duration::from_millis(500);

/// Runs `in_flight` workers that each call `call` back to back for `RUN`.
async fn measure<F, Fut>(in_flight: usize, call: F) -> (f64, Duration, Duration)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    nrpc_examples::bench::measure(in_flight, WARMUP, RUN, call).await
}

fn row(mode: &str, in_flight: usize, rate: f64, p50: Duration, p99: Duration) {
    println!("{mode:<14} {in_flight:>9} {rate:>12.0} {p50:>10.1?} {p99:>10.1?}");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let nats = Nats::from_env()?;
    let payload = Bytes::from(vec![0x5a; PAYLOAD]);

    // Raw echo responder on its own connection.
    let raw_server = async_nats::connect(&nats.url).await?;
    let mut sub = raw_server
        .queue_subscribe("bench.raw.>", "q".into())
        .await?;
    let responder = raw_server.clone();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                let _ = responder.publish(reply, msg.payload).await;
            }
        }
    });
    raw_server.flush().await?;

    let server = Server::builder(&Connection::new(async_nats::connect(&nats.url).await?).await?)
        .max_concurrent_requests(4096)
        .add_service(GreeterServer::new(Echo))
        .serve()
        .await?;

    let raw_client = async_nats::connect(&nats.url).await?;
    let client = GreeterClient::new(Connection::new(async_nats::connect(&nats.url).await?).await?);
    let msg = EchoMessage {
        payload: payload.clone(),
    };
    // The same generated client, pointed at the raw responder's subjects.
    let raw_echo_client =
        GreeterClient::new(Connection::new(async_nats::connect(&nats.url).await?).await?)
            .with_package_subject("bench.raw")?;

    println!("unary echo, {PAYLOAD} B payload, {RUN:?} per row, one client connection");
    println!(
        "{:<14} {:>9} {:>12} {:>10} {:>10}",
        "mode", "in-flight", "calls/s", "p50", "p99"
    );
    for in_flight in [1, 16, 256] {
        let raw = Arc::new(raw_client.clone());
        let p = payload.clone();
        let (rate, p50, p99) = measure(in_flight, move || {
            let (raw, p) = (raw.clone(), p.clone());
            async move {
                raw.request("bench.raw.echo", p).await.expect("raw echo");
            }
        })
        .await;
        row("async-nats", in_flight, rate, p50, p99);

        // Shared, so the loop clones reference counts, not the client's fields.
        let c = Arc::new(client.clone());
        let m = Arc::new(msg.clone());
        let (rate, p50, p99) = measure(in_flight, move || {
            let (c, m) = (c.clone(), m.clone());
            async move {
                c.echo(&m).await.expect("nrpc echo");
            }
        })
        .await;
        row("nrpc", in_flight, rate, p50, p99);

        // Halves: the nrpc client against the raw responder, and a raw client
        // against the nrpc server, to see which side costs what.
        let c = Arc::new(raw_echo_client.clone());
        let m = Arc::new(msg.clone());
        let (rate, p50, p99) = measure(in_flight, move || {
            let (c, m) = (c.clone(), m.clone());
            async move {
                c.echo(&m).await.expect("nrpc client, raw server");
            }
        })
        .await;
        row("nrpc client", in_flight, rate, p50, p99);

        let raw = Arc::new(raw_client.clone());
        let body = Bytes::from(nrpc_runtime::prost::Message::encode_to_vec(&msg));
        let (rate, p50, p99) = measure(in_flight, move || {
            let (raw, body) = (raw.clone(), body.clone());
            async move {
                raw.request("demo.Greeter.Echo", body)
                    .await
                    .expect("raw client, nrpc server");
            }
        })
        .await;
        row("nrpc server", in_flight, rate, p50, p99);
    }
    server.shutdown().await;
    Ok(())
}
