//! Durability declared once — in a `.proto` (`proto/jobs.proto`) and in
//! `#[nats_service]` — used through the generated client, server trait and
//! events publisher, against nats-server with JetStream.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures::StreamExt;
use nats_harness::NatsServer;
use nrpc_runtime::durable::Start;
use nrpc_runtime::server::Request;
use nrpc_runtime::{CallOptions, Server, Status};
use nrpc_tests::jobs::mailer_client::MailerClient;
use nrpc_tests::jobs::mailer_server::{Mailer, MailerEvents, MailerServer};
use nrpc_tests::jobs::{Email, Receipt};
use nrpc_tests::{connection, within};
use prost::Message as _;
use tokio::sync::mpsc;

/// Records what it handles; an e-mail to `bad` is refused for good.
struct Outbox {
    sent: mpsc::UnboundedSender<(String, u64)>,
    pinged: mpsc::UnboundedSender<String>,
}

impl Mailer for Outbox {
    async fn send(&self, request: Request<Email>) -> Result<(), Status> {
        let email = request.into_inner();
        if email.to == "bad" {
            return Err(Status::invalid_argument("no such mailbox"));
        }
        let _ = self.sent.send((email.id, 1));
        Ok(())
    }

    async fn ping(&self, request: Request<Email>) -> Result<(), Status> {
        let _ = self.pinged.send(request.into_inner().id);
        Ok(())
    }
}

fn email(id: &str, to: &str) -> Email {
    Email {
        id: id.into(),
        to: to.into(),
        subject: "hello".into(),
    }
}

fn header<'a>(message: &'a async_nats::Message, name: &str) -> &'a str {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map_or("", |v| v.as_str())
}

/// Commands published while no server runs are stored (the client makes
/// the stream from the declaration) and handled once a server starts, each
/// once; the same message id is stored once; a plain NATS peer's publish to
/// the subject is captured too; a refused one and an undecodable one reach
/// the dead letters with their reasons; the method that is not durable
/// still works as before.
#[tokio::test]
async fn declared_durable_commands_are_stored_handled_and_dead_lettered() {
    let server = NatsServer::start_jetstream().unwrap();
    let conn = connection(&server).await;
    let watcher = async_nats::connect(server.url()).await.unwrap();
    let mut dead = watcher.subscribe("_NRPC.dlq.>").await.unwrap();
    watcher.flush().await.unwrap();
    let client = MailerClient::new(conn.clone());

    // No server yet: stored all the same.
    let first = client.send(&email("m-1", "ada")).await.unwrap();
    assert_eq!(first.stream, "NRPC_jobs_v1_Mailer_Send");
    assert_eq!((first.sequence, first.duplicate), (1, false));
    let keyed = || CallOptions::new().message_id("m-2");
    let second = client
        .send_with(&email("m-2", "bob"), keyed())
        .await
        .unwrap();
    let again = client
        .send_with(&email("m-2", "bob"), keyed())
        .await
        .unwrap();
    assert!(again.duplicate, "the same message id is stored once");
    assert_eq!(again.sequence, second.sequence);
    client.send(&email("m-3", "bad")).await.unwrap();
    // A peer that only knows plain NATS: captured by the stream.
    let subject = client
        .send_subject(nrpc_runtime::Encoding::Protobuf)
        .unwrap();
    watcher
        .publish(subject.clone(), email("m-4", "eve").encode_to_vec().into())
        .await
        .unwrap();
    watcher
        .publish(subject, vec![0xff, 0xff].into())
        .await
        .unwrap();
    watcher.flush().await.unwrap();

    let (sent, mut handled) = mpsc::unbounded_channel();
    let (pinged, mut pings) = mpsc::unbounded_channel();
    let handle = Server::builder(&conn)
        .add_service(MailerServer::new(Outbox { sent, pinged }))
        .serve()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(within("a command", handled.recv()).await.unwrap().0);
    }
    ids.sort();
    assert_eq!(ids, ["m-1", "m-2", "m-4"]);
    let mut reasons = Vec::new();
    for _ in 0..2 {
        let letter = within("a dead letter", dead.next()).await.unwrap();
        reasons.push(header(&letter, "Nrpc-Dlq-Reason").to_owned());
    }
    reasons.sort();
    assert_eq!(reasons, ["decode", "rejected"]);

    // Not durable: delivered by core NATS to the running server.
    client.ping(&email("p-1", "ada")).await.unwrap();
    assert_eq!(within("the ping", pings.recv()).await.unwrap(), "p-1");

    handle.shutdown_timeout(Duration::from_secs(5)).await;
    assert!(handled.try_recv().is_err(), "each command handled once");
}

/// Durable events: the publisher gets the broker's acknowledgement, every
/// subscriber group gets each event, a new group replays from the start
/// or begins with new ones, and an event that does not decode goes to the
/// dead letters instead of the handler.
#[tokio::test]
async fn declared_durable_events_reach_every_group_and_replay() {
    let server = NatsServer::start_jetstream().unwrap();
    let conn = connection(&server).await;
    let events = MailerEvents::new(conn.clone());
    let client = MailerClient::new(conn.clone());
    let receipt = |id: &str| Receipt {
        id: id.into(),
        to: "ada".into(),
    };
    for id in ["r-1", "r-2"] {
        let stored = events.publish_sent(&receipt(id)).await.unwrap();
        assert_eq!(stored.stream, "NRPC_jobs_v1_Mailer_Sent");
    }
    let group = |name: &'static str, start: Start| {
        let client = client.clone();
        async move {
            let (tx, rx) = mpsc::unbounded_channel::<String>();
            let consumer = client
                .consume_sent(name, start, move |receipt, _delivery| {
                    let _ = tx.send(receipt.id);
                    async { Ok(()) }
                })
                .await
                .unwrap();
            (consumer, rx)
        }
    };
    let (audit, mut audited) = group("audit", Start::All).await;
    let (billing, mut billed) = group("billing", Start::New).await;
    for want in ["r-1", "r-2"] {
        assert_eq!(
            within("a replayed event", audited.recv()).await.unwrap(),
            want
        );
    }
    // One that does not decode, from a plain NATS peer, then a good one.
    let watcher = async_nats::connect(server.url()).await.unwrap();
    let mut dead = watcher.subscribe("_NRPC.dlq.>").await.unwrap();
    watcher.flush().await.unwrap();
    let subject = client
        .sent_subject(nrpc_runtime::Encoding::Protobuf)
        .unwrap();
    watcher
        .publish(subject, vec![0xff, 0xff].into())
        .await
        .unwrap();
    watcher.flush().await.unwrap();
    events.publish_sent(&receipt("r-3")).await.unwrap();
    assert_eq!(within("a new event", audited.recv()).await.unwrap(), "r-3");
    assert_eq!(within("a new event", billed.recv()).await.unwrap(), "r-3");
    // Each group dead-letters its copy of the undecodable one.
    for _ in 0..2 {
        let letter = within("a dead letter", dead.next()).await.unwrap();
        assert_eq!(header(&letter, "Nrpc-Dlq-Reason"), "decode");
    }
    audit.shutdown(Duration::from_secs(5)).await;
    billing.shutdown(Duration::from_secs(5)).await;
    assert!(billed.try_recv().is_err(), "billing began with new events");
    let js = async_nats::jetstream::new(watcher);
    let mut letters = js.get_stream("NRPC_DLQ_jobs_v1_Mailer").await.unwrap();
    assert_eq!(
        letters.info().await.unwrap().state.messages,
        2,
        "one dead letter per group"
    );
}

/// A durable command declared with `#[nats_service]`.
// ANCHOR: macro
mod rust_tasks {
    use nrpc_runtime::{nats_service, Status};
    pub use nrpc_tests::greeter::HelloRequest;

    /// Runs tasks.
    #[nats_service(package = "rtasks", proto_package = "rtasks.v1")]
    pub trait Tasks {
        /// Runs a task, durably.
        #[nrpc(no_reply, durable(max_deliveries = 3, backoff = ["50ms"], ack_wait = "2s"))]
        async fn run(&self, request: HelloRequest) -> Result<(), Status>;
    }
}
// ANCHOR_END: macro

/// Fails the first delivery of each task (retryable), handles the second.
struct FlakyTasks(mpsc::UnboundedSender<(String, Option<u64>)>);

impl rust_tasks::tasks_server::Tasks for FlakyTasks {
    async fn run(&self, request: Request<rust_tasks::HelloRequest>) -> Result<(), Status> {
        let delivered = request.delivered();
        let _ = self.0.send((request.into_inner().name, delivered));
        match delivered {
            Some(1) => Err(Status::unavailable("try again")),
            _ => Ok(()),
        }
    }
}

/// The macro's declaration is the same durability: the policy in the
/// spec, the typed publisher with the broker's ack, the trait method as
/// the handler, which sees its delivery number and is retried after a
/// retryable failure.
#[tokio::test]
async fn a_macro_declared_durable_command_is_retried_with_its_delivery_number() {
    let declared = rust_tasks::TASKS_SPEC.methods[0].durable.as_ref().unwrap();
    assert_eq!(declared.max_deliveries, 3);
    assert_eq!(&declared.backoff[..], [Duration::from_millis(50)]);
    let server = NatsServer::start_jetstream().unwrap();
    let conn = connection(&server).await;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let handle = Server::builder(&conn)
        .add_service(rust_tasks::tasks_server::TasksServer::new(FlakyTasks(tx)))
        .serve()
        .await
        .unwrap();
    let client = rust_tasks::tasks_client::TasksClient::new(conn.clone());
    let stored = client.run(&nrpc_tests::hello("t-1")).await.unwrap();
    assert_eq!(stored.stream, "NRPC_rtasks_v1_Tasks_Run");
    let first = within("the first attempt", seen.recv()).await.unwrap();
    let second = within("the retry", seen.recv()).await.unwrap();
    assert_eq!(first, ("t-1".to_owned(), Some(1)));
    assert_eq!(second, ("t-1".to_owned(), Some(2)));
    handle.shutdown_timeout(Duration::from_secs(5)).await;
}

/// A server never changes a production stream silently: one whose
/// settings differ from the declaration stops `serve` with the setting
/// named; a run-time override that matches it is accepted.
#[tokio::test]
async fn serving_against_a_stream_that_differs_names_the_setting() {
    use nrpc_runtime::durable::{Durability, Durable, Policy, Storage, StreamShape};
    let server = NatsServer::start_jetstream().unwrap();
    let conn = connection(&server).await;
    let in_memory = Policy {
        storage: Storage::Memory,
        ..Policy::default()
    };
    let subjects = "jobs.v1.Mailer.Send";
    let mut shape = StreamShape::of(Durability::Command, subjects, &in_memory);
    shape.subjects.push(format!("{subjects}.*"));
    Durable::new(&conn)
        .provision_stream("NRPC_jobs_v1_Mailer_Send", &shape, false)
        .await
        .unwrap();
    let (sent, _handled) = mpsc::unbounded_channel();
    let (pinged, _pings) = mpsc::unbounded_channel();
    let refused = Server::builder(&conn)
        .add_service(MailerServer::new(Outbox { sent, pinged }))
        .serve()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("jobs.v1.Mailer/Send") && refused.contains("storage"),
        "{refused}"
    );
    // Overridden to match the stream, with the instance's own concurrency.
    let (sent, _handled) = mpsc::unbounded_channel();
    let (pinged, _pings) = mpsc::unbounded_channel();
    let handle = Server::builder(&conn)
        .durable_policy("jobs.v1.Mailer/Send", |p| {
            p.storage = Storage::Memory;
            p.concurrency = 2;
        })
        .add_service(MailerServer::new(Outbox { sent, pinged }))
        .serve()
        .await
        .unwrap();
    handle.shutdown_timeout(Duration::from_secs(5)).await;
}

/// Through the gateway, a POST to a durable command is answered once the
/// broker has stored it (with the stream and sequence), under the caller's
/// `Idempotency-Key`: the same key twice is stored, and handled, once.
#[tokio::test]
async fn the_gateway_accepts_a_durable_command_once_stored_under_its_idempotency_key() {
    let server = NatsServer::start_jetstream().unwrap();
    let conn = connection(&server).await;
    let (sent, mut handled) = mpsc::unbounded_channel();
    let (pinged, _pings) = mpsc::unbounded_channel();
    let handle = Server::builder(&conn)
        .add_service(MailerServer::new(Outbox { sent, pinged }))
        .serve()
        .await
        .unwrap();
    let gateway = nrpc_tests::gateway(&server).await;
    let post = |key: &'static str| {
        reqwest::Client::new()
            .post(format!("{}/jobs.v1.Mailer/Send", gateway.url))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(r#"{"id":"g-1","to":"ada"}"#)
            .send()
    };
    let first = post("order-g-1").await.unwrap();
    assert_eq!(first.status(), 202);
    let first: serde_json::Value = first.json().await.unwrap();
    assert_eq!(first["stream"], "NRPC_jobs_v1_Mailer_Send");
    assert_eq!(first["duplicate"], false);
    let again: serde_json::Value = post("order-g-1").await.unwrap().json().await.unwrap();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["sequence"], first["sequence"]);
    assert_eq!(
        within("the command", handled.recv()).await.unwrap().0,
        "g-1"
    );
    let bad = post("not a key").await.unwrap();
    assert_eq!(bad.status(), 400);
    handle.shutdown_timeout(Duration::from_secs(5)).await;
    assert!(handled.try_recv().is_err(), "stored once, handled once");
}
