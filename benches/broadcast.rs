//! Broadcast fan-out: one client asks every instance of a service at once
//! (`check_broadcast`, ending as soon as all have answered), against 1, 4
//! and 16 instances, each a server on its own connection (all in this
//! process, with nats-server beside it).
//!
//! ```text
//! cargo bench -p nrpc-examples --bench broadcast
//! ```
//!
//! Prints broadcasts/s, replies/s and the latency of a whole broadcast
//! (p50/p99), with 1 and 16 broadcasts in flight.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use nrpc_examples::bench::measure;
use nrpc_examples::fleet::health_client::HealthClient;
use nrpc_examples::fleet::health_server::{Health, HealthServer};
use nrpc_examples::fleet::HealthReport;
use nrpc_examples::Nats;
use nrpc_runtime::futures::StreamExt;
use nrpc_runtime::{async_nats, BroadcastOptions, Connection, Request, Response, Server, Status};

const INSTANCES: [usize; 3] = [1, 4, 16];
const IN_FLIGHT: [usize; 2] = [1, 16];
const WARMUP: Duration = Duration::from_millis(500);
const RUN: Duration = Duration::from_secs(3);

struct Instance(String);

impl Health for Instance {
    async fn check(&self, _: Request<()>) -> Result<Response<HealthReport>, Status> {
        Ok(Response::new(HealthReport {
            instance: self.0.clone(),
            healthy: true,
            served: 0,
        }))
    }

    async fn drop_caches(&self, _: Request<()>) -> Result<(), Status> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let nats = Nats::from_env()?;
    let client = HealthClient::new(Connection::new(async_nats::connect(&nats.url).await?).await?);
    println!(
        "{:>9} {:>9} {:>12} {:>11} {:>9} {:>9}",
        "instances", "in-flight", "broadcasts/s", "replies/s", "p50", "p99"
    );
    let mut servers = Vec::new();
    for n in INSTANCES {
        while servers.len() < n {
            let name = format!("i{}", servers.len());
            servers.push(
                Server::builder(&Connection::new(async_nats::connect(&nats.url).await?).await?)
                    .add_service(HealthServer::new(Instance(name)))
                    .serve()
                    .await?,
            );
        }
        for in_flight in IN_FLIGHT {
            let client = Arc::new(client.clone());
            let (rate, p50, p99) = measure(in_flight, WARMUP, RUN, move || {
                let client = client.clone();
                async move {
                    let options = BroadcastOptions::new()
                        .max_replies(n)
                        .timeout(Duration::from_secs(5));
                    let mut replies = client.check_broadcast(options).await.expect("broadcast");
                    let mut got = 0;
                    while let Some(reply) = replies.next().await {
                        reply.result.expect("a reply");
                        got += 1;
                    }
                    assert_eq!(got, n, "every instance answers ({:?})", replies.end());
                }
            })
            .await;
            println!(
                "{n:>9} {in_flight:>9} {rate:>12.0} {:>11.0} {p50:>9.1?} {p99:>9.1?}",
                rate * n as f64
            );
        }
    }
    for server in servers {
        server.shutdown().await;
    }
    Ok(())
}
