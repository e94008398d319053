//! Ask every instance for its health (broadcast), list the instances through
//! NATS services discovery, then talk to one of them directly.
//!
//! ```text
//! cargo run -p nrpc-examples --bin health
//! ```

use std::error::Error;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nrpc_examples::fleet::health_client::HealthClient;
use nrpc_examples::fleet::health_server::{Health, HealthEvents, HealthServer};
use nrpc_examples::fleet::HealthReport;
use nrpc_examples::Nats;
use nrpc_runtime::discovery::Discovery;
use nrpc_runtime::futures::StreamExt;
use nrpc_runtime::{BroadcastOptions, ConnectOptions, Request, Response, Server, Status};

struct Instance {
    name: String,
    served: AtomicU64,
}

impl Health for Instance {
    async fn check(&self, _: Request<()>) -> Result<Response<HealthReport>, Status> {
        let served = self.served.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Response::new(HealthReport {
            instance: self.name.clone(),
            healthy: true,
            served,
        }))
    }

    async fn drop_caches(&self, _: Request<()>) -> Result<(), Status> {
        println!("  {} dropped its caches", self.name);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let nats = Nats::from_env()?;

    // Three instances, each on its own connection, in one queue group.
    let mut servers = Vec::new();
    for name in ["alpha", "beta", "gamma"] {
        let instance = Instance {
            name: name.into(),
            served: AtomicU64::new(0),
        };
        servers.push(
            Server::builder(&ConnectOptions::new().servers(&nats.url).connect().await?)
                .version("1.0.0")
                .add_service(HealthServer::new(instance))
                .serve()
                .await?,
        );
    }

    let conn = ConnectOptions::new().servers(&nats.url).connect().await?;
    let client = HealthClient::new(conn.clone());

    println!("broadcast Check:");
    // ANCHOR: broadcast
    let options = BroadcastOptions::new().idle_gap(Duration::from_millis(500));
    let mut replies = client.check_broadcast(options).await?;
    let mut first = None;
    while let Some(reply) = replies.next().await {
        let report = reply.result?.into_inner();
        println!(
            "  {} ({}) healthy={}",
            report.instance, reply.instance, report.healthy
        );
        first.get_or_insert(reply.instance);
    }
    // ANCHOR_END: broadcast

    println!("discovery:");
    let discovery = Discovery::new(conn.clone());
    for info in discovery.info(Some("fleet_v1_Health")).await? {
        let endpoints: Vec<_> = info.endpoints.iter().map(|e| e.subject.as_str()).collect();
        println!(
            "  {} {} v{} {:?}",
            info.name, info.id, info.version, endpoints
        );
    }

    // Events: a typed publisher on the service's side, a Stream on the
    // subscriber's (`Some("group")`: each event to one member of a group).
    // ANCHOR: events
    let mut changes = client.subscribe_state_changed(None).await?;
    let report = HealthReport {
        instance: "alpha".into(),
        healthy: false,
        served: 0,
    };
    HealthEvents::new(conn.clone())
        .publish_state_changed(&report)
        .await?;
    // (Events are NATS core: a subscriber that is not there misses them.)
    if let Ok(Some(change)) = tokio::time::timeout(Duration::from_secs(5), changes.next()).await {
        let change = change?;
        println!("event: {} healthy={}", change.instance, change.healthy);
    }
    // ANCHOR_END: events

    if let Some(id) = first {
        // ANCHOR: direct
        let direct = client.clone().with_instance(&id)?;
        // ANCHOR_END: direct
        for _ in 0..3 {
            let report = direct.check().await?;
            println!(
                "direct to {id}: {} has served {}",
                report.instance, report.served
            );
        }
        // ANCHOR: fire_and_forget
        direct.drop_caches().await?;
        // ANCHOR_END: fire_and_forget
    }

    // The NATS server has the fire-and-forget request once the flush
    // returns; graceful shutdown then still handles it.
    // ANCHOR: flush
    conn.flush().await?;
    // ANCHOR_END: flush
    // ANCHOR: broadcast_end
    println!("why the broadcast ended: {:?}", replies.end());
    // ANCHOR_END: broadcast_end
    for server in servers {
        server.shutdown().await;
    }
    Ok(())
}
