//! Durable commands and events (`proto/jobs.proto`): e-mails queued while
//! no mailer runs are kept by the broker and sent once one starts, each
//! once even when queued twice; one that cannot be sent goes to the dead
//! letters with its reason; the "sent" events are replayed to a new
//! subscriber group.
//!
//! Run with `cargo run -p nrpc-examples --bin durable`: without `NATS_URL`
//! it starts a nats-server with JetStream (on a temporary store) itself.

use std::collections::HashSet;
use std::error::Error;
use std::sync::Mutex;
use std::time::Duration;

use nrpc_examples::jobs::mailer_client::MailerClient;
use nrpc_examples::jobs::mailer_server::{Mailer, MailerEvents, MailerServer};
use nrpc_examples::jobs::{Email, Receipt};
use nrpc_examples::Nats;
use nrpc_runtime::durable::{Durable, Start};
use nrpc_runtime::{CallOptions, ConnectOptions, Request, Server, Status};
use tokio::sync::mpsc;

// ANCHOR: handler
/// Sends e-mails. Delivery is at least once (a crash after sending and
/// before the ack means the e-mail comes again), so the handler is
/// idempotent: it remembers what it sent by the e-mail's id. A real
/// service keeps that in its database, in the same transaction as the
/// work.
struct Outbox {
    sent: Mutex<HashSet<String>>,
    events: MailerEvents,
    done: mpsc::UnboundedSender<String>,
}

impl Mailer for Outbox {
    async fn send(&self, request: Request<Email>) -> Result<(), Status> {
        let attempt = request.delivered().unwrap_or(1);
        let email = request.into_inner();
        if email.to.is_empty() {
            // Not retried: it goes to the dead letters with this message.
            return Err(Status::invalid_argument("the e-mail has no recipient"));
        }
        let first_time = self
            .sent
            .lock()
            .map_err(|_| Status::internal("poisoned"))?
            .insert(email.id.clone());
        if first_time {
            // An error here (UNAVAILABLE, say) would be retried after the
            // declared backoff.
            let receipt = Receipt {
                id: email.id.clone(),
                to: email.to.clone(),
            };
            self.events.publish_sent(&receipt).await?;
            let _ = self.done.send(format!(
                "sent {} to {} (attempt {attempt})",
                email.id, email.to
            ));
        }
        Ok(())
    }

    async fn ping(&self, _: Request<Email>) -> Result<(), Status> {
        Ok(())
    }
}
// ANCHOR_END: handler

fn email(id: &str, to: &str) -> Email {
    Email {
        id: id.into(),
        to: to.into(),
        subject: "Your order".into(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let nats = Nats::from_env_with_jetstream()?;
    let conn = ConnectOptions::new()
        .servers(nats.url.clone())
        .connect()
        .await?;

    // ANCHOR: publish
    // No mailer runs yet: the broker keeps the commands.
    let mailer = MailerClient::new(conn.clone());
    let stored = mailer.send(&email("order-1", "ada@example.com")).await?;
    println!("stored in {} as #{}", stored.stream, stored.sequence);
    // The same idempotency key twice (a retry after a timeout): kept once.
    let keyed = || CallOptions::new().message_id("order-2");
    mailer
        .send_with(&email("order-2", "bob@example.com"), keyed())
        .await?;
    let again = mailer
        .send_with(&email("order-2", "bob@example.com"), keyed())
        .await?;
    println!("order-2 again: duplicate = {}", again.duplicate);
    mailer.send(&email("order-3", "")).await?;
    // ANCHOR_END: publish

    // ANCHOR: serve
    let (done, mut sent) = mpsc::unbounded_channel();
    let outbox = Outbox {
        sent: Mutex::default(),
        events: MailerEvents::new(conn.clone()),
        done,
    };
    let server = Server::builder(&conn)
        .add_service(MailerServer::new(outbox))
        .serve()
        .await?;
    // ANCHOR_END: serve
    for _ in 0..2 {
        if let Some(line) = sent.recv().await {
            println!("{line}");
        }
    }

    // ANCHOR: events
    // A subscriber group started now replays the events it missed.
    let (tx, mut receipts) = mpsc::unbounded_channel();
    let audit = mailer
        .consume_sent("audit", Start::All, move |receipt, delivery| {
            // Delivered at least once too: `delivery.delivered` counts.
            let _ = tx.send(format!(
                "audit: {} (delivery {})",
                receipt.to, delivery.delivered
            ));
            async { Ok(()) }
        })
        .await?;
    // ANCHOR_END: events
    for _ in 0..2 {
        if let Some(line) = receipts.recv().await {
            println!("{line}");
        }
    }

    // ANCHOR: dead_letters
    // The e-mail without a recipient, with why (`nrpc dlq ls jobs.v1.Mailer`).
    let durable = Durable::new(&conn);
    let letters = loop {
        let letters = durable.dead_letters("jobs.v1.Mailer", 10).await?;
        if !letters.is_empty() {
            break letters;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for letter in &letters {
        println!(
            "dead letter #{}: {} {} ({})",
            letter.sequence,
            letter.reason.map_or("?", |r| r.as_str()),
            letter.code.as_deref().unwrap_or(""),
            letter.message.as_deref().unwrap_or("")
        );
    }
    // ANCHOR_END: dead_letters

    audit.shutdown(Duration::from_secs(5)).await;
    server.shutdown_timeout(Duration::from_secs(5)).await;
    Ok(())
}
