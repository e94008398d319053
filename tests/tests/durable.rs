//! Durable delivery over JetStream, against a real nats-server with
//! JetStream on a temporary file store (nats-harness).

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use async_nats::jetstream;
use nats_harness::NatsServer;
use nrpc_runtime::durable::{Durability, Durable, DurableError, Policy, StreamShape};
use nrpc_tests::{connection, within, PATIENCE};

/// The test broker keeps what JetStream stored across a kill -9 and a
/// restart, and removes its store when dropped: the ground durable
/// delivery stands on.
#[tokio::test]
async fn the_test_brokers_store_survives_a_kill_and_a_restart() {
    let mut server = NatsServer::start_jetstream().unwrap();
    let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
    js.create_stream(jetstream::stream::Config {
        name: "KEPT".into(),
        subjects: vec!["kept.>".into()],
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 0..100u32 {
        let ack = js
            .publish(format!("kept.{i}"), i.to_string().into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(ack.sequence, u64::from(i) + 1);
    }
    drop(js);
    server.restart().unwrap();
    let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
    let mut stream = within("the stream after the restart", js.get_stream("KEPT"))
        .await
        .unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 100);
    let last = stream.get_raw_message(100).await.unwrap();
    assert_eq!(&last.payload[..], b"99");
    let store = server.store().unwrap().to_owned();
    assert!(store.is_dir());
    drop(server);
    assert!(!store.exists(), "{} left behind", store.display());
}

fn command_shape(subject: &str) -> StreamShape {
    StreamShape::of(Durability::Command, subject, &Policy::default())
}

/// A stream is created from the declaration, and an existing one is
/// checked against it: a difference is an error naming the field, never a
/// silent change; an updatable one changes only when asked.
#[tokio::test]
async fn provisioning_creates_or_checks_and_never_changes_silently() {
    let server = NatsServer::start_jetstream().unwrap();
    let durable = Durable::new(&connection(&server).await);
    let shape = command_shape("orders.place");
    durable
        .provision_stream("ORDERS", &shape, false)
        .await
        .unwrap();
    // Again: it matches.
    durable
        .provision_stream("ORDERS", &shape, false)
        .await
        .unwrap();
    // Declared as an event stream now: retention cannot change.
    let event = StreamShape::of(Durability::Event, "orders.place", &Policy::default());
    let error = durable
        .provision_stream("ORDERS", &event, true)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("retention: declared Limits, the stream has WorkQueue (cannot be changed"),
        "{text}"
    );
    // A longer dedup window: refused unless asked, then changed.
    let longer = StreamShape {
        duplicate_window: Duration::from_secs(600),
        ..shape.clone()
    };
    let error = durable
        .provision_stream("ORDERS", &longer, false)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("duplicate_window"), "{error}");
    durable
        .provision_stream("ORDERS", &longer, true)
        .await
        .unwrap();
    durable
        .provision_stream("ORDERS", &longer, false)
        .await
        .unwrap();
}

/// The same message id published twice inside the window is stored once,
/// and the second acknowledgement says so.
#[tokio::test]
async fn the_same_message_id_is_stored_once() {
    let server = NatsServer::start_jetstream().unwrap();
    let durable = Durable::new(&connection(&server).await);
    durable
        .provision_stream("ONCE", &command_shape("once.do"), false)
        .await
        .unwrap();
    let publish = |id: &'static str| durable.publish("once.do", None, "x".into(), id, PATIENCE);
    let first = publish("req-1").await.unwrap();
    let again = publish("req-1").await.unwrap();
    let other = publish("req-2").await.unwrap();
    assert_eq!((first.sequence, first.duplicate), (1, false));
    assert_eq!((again.sequence, again.duplicate), (1, true));
    assert_eq!((other.sequence, other.duplicate), (2, false));
    assert_eq!(first.stream, "ONCE");
    let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
    let info = js
        .get_stream("ONCE")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(info.state.messages, 2);
}

/// A publish while the broker is down and restarting resolves within its
/// deadline: stored (once) when the broker is back in time, a clear error
/// when it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_across_a_broker_restart_ends_in_time() {
    let mut server = NatsServer::start_jetstream().unwrap();
    let durable = Durable::new(&connection(&server).await);
    durable
        .provision_stream("BOUNCE", &command_shape("bounce.do"), false)
        .await
        .unwrap();
    server.stop();
    // Nothing answers: an error within its deadline, and the message is
    // not left in the client's buffer to go out later.
    let short = durable
        .publish(
            "bounce.do",
            None,
            "lost?".into(),
            "m-0",
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            short,
            DurableError::Timeout(_) | DurableError::NoStream { .. }
        ),
        "{short}"
    );
    // Published while the broker is down, confirmed once it is back.
    let publishing = tokio::spawn({
        let durable = durable.clone();
        async move {
            durable
                .publish("bounce.do", None, "kept".into(), "m-1", PATIENCE)
                .await
        }
    });
    // The restart blocks a thread of its own; the publish keeps trying.
    let server = tokio::task::spawn_blocking(move || {
        server.restart().unwrap();
        server
    })
    .await
    .unwrap();
    let stored = within("the publish", publishing).await.unwrap().unwrap();
    assert_eq!(stored.stream, "BOUNCE");
    let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
    let mut stream = js.get_stream("BOUNCE").await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 1, "stored once, and nothing else");
    let kept = stream.get_raw_message(stored.sequence).await.unwrap();
    assert_eq!(&kept.payload[..], b"kept");
}
