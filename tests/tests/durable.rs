//! Durable delivery over JetStream, against a real nats-server with
//! JetStream on a temporary file store (nats-harness).

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use futures::StreamExt;
use nats_harness::NatsServer;
use nrpc_runtime::durable::{
    ConsumerHandle, ConsumerSpec, Durability, Durable, DurableError, Policy, Start, StreamShape,
};
use nrpc_runtime::{Code, Status};
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
    let conn = connection(&server).await;
    let durable = Durable::new(&conn);
    durable
        .provision_stream("BOUNCE", &command_shape("bounce.do"), false)
        .await
        .unwrap();
    server.stop();
    // Once the client knows the connection is down (a message written just
    // before that may still be stored: the outcome of a timeout is unknown).
    within("the client to see the broker gone", async {
        while conn.nats().connection_state() == async_nats::connection::State::Connected {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
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

/// A command stream `name` on `subject`, and a consumer of it with
/// `policy` running `handler`; every attempt's instant is recorded.
struct Rig {
    server: NatsServer,
    durable: Durable,
    attempts: Arc<Mutex<Vec<std::time::Instant>>>,
    dead: async_nats::Subscriber,
}

async fn rig(name: &str, policy: Policy) -> Rig {
    let server = NatsServer::start_jetstream().unwrap();
    let conn = connection(&server).await;
    let durable = Durable::new(&conn);
    let subject = format!("{}.do", name.to_lowercase());
    let shape = StreamShape::of(Durability::Command, &subject, &policy);
    durable.provision_stream(name, &shape, false).await.unwrap();
    // Dead letters as they are written (core NATS sees them too).
    let watcher = async_nats::connect(server.url()).await.unwrap();
    let dead = watcher.subscribe("_NRPC.dlq.>").await.unwrap();
    watcher.flush().await.unwrap();
    Rig {
        server,
        durable,
        attempts: Arc::default(),
        dead,
    }
}

fn spec(name: &str, policy: Policy) -> ConsumerSpec {
    ConsumerSpec {
        service: "test.v1.Orders".into(),
        stream: name.into(),
        consumer: "nrpc".into(),
        subject: format!("{}.do", name.to_lowercase()),
        policy,
        start: Start::All,
    }
}

fn header<'a>(message: &'a async_nats::Message, name: &str) -> &'a str {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map_or("", |v| v.as_str())
}

/// Waits (polling every 20 ms, within the tests' patience) until `stream`
/// holds no message: every one settled.
async fn until_empty(server: &NatsServer, stream: &str, what: &str) {
    within(what, async {
        while messages_in(server, stream).await > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

async fn messages_in(server: &NatsServer, stream: &str) -> u64 {
    let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
    js.get_stream(stream)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages
}

/// A message whose handler always fails with a retryable code reaches the
/// dead letters after exactly max_deliveries attempts, the policy's
/// delays between them, with its reason, code and origin; the original is
/// gone from the work queue.
#[tokio::test]
async fn a_poison_message_is_dead_lettered_after_its_retries() {
    let policy = Policy {
        max_deliveries: 3,
        backoff: vec![Duration::from_millis(300), Duration::from_millis(600)].into(),
        ack_wait: Duration::from_secs(5),
        ..Policy::default()
    };
    let mut rig = rig("POISON", policy.clone()).await;
    let attempts = rig.attempts.clone();
    let consumer = rig
        .durable
        .consume(spec("POISON", policy), move |_delivery| {
            attempts.lock().unwrap().push(std::time::Instant::now());
            async {
                Err(Status::new(
                    Code::Unavailable,
                    "the database is down\nagain",
                ))
            }
        })
        .await
        .unwrap();
    rig.durable
        .publish("poison.do", None, "order-1".into(), "p-1", PATIENCE)
        .await
        .unwrap();
    let dead = within("the dead letter", rig.dead.next()).await.unwrap();
    assert_eq!(&dead.payload[..], b"order-1");
    assert_eq!(dead.subject.as_str(), "_NRPC.dlq.test_v1_Orders.POISON");
    assert_eq!(header(&dead, "Nrpc-Dlq-Reason"), "exhausted");
    assert_eq!(header(&dead, "Nrpc-Dlq-Code"), "UNAVAILABLE");
    assert_eq!(
        header(&dead, "Nrpc-Dlq-Message"),
        "the database is down again"
    );
    assert_eq!(header(&dead, "Nrpc-Dlq-Deliveries"), "3");
    assert_eq!(header(&dead, "Nrpc-Dlq-Stream"), "POISON");
    assert_eq!(header(&dead, "Nrpc-Dlq-Sequence"), "1");
    assert_eq!(header(&dead, "Nrpc-Dlq-Subject"), "poison.do");
    assert_eq!(header(&dead, "Nats-Msg-Id"), "POISON:nrpc:1");
    let attempts = rig.attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 3);
    // The delays are the policy's, at least (the broker adds its own).
    assert!(attempts[1] - attempts[0] >= Duration::from_millis(300));
    assert!(attempts[2] - attempts[1] >= Duration::from_millis(600));
    consumer.shutdown(Duration::from_secs(5)).await;
    assert_eq!(messages_in(&rig.server, "POISON").await, 0);
    assert_eq!(messages_in(&rig.server, "NRPC_DLQ_test_v1_Orders").await, 1);
}

/// A failure that retrying cannot fix goes to the dead letters at once; a
/// panic (in the handler's future or before it) is retried and then
/// handled; a handler that hangs past its
/// timeout on its last attempt is dead-lettered too.
#[tokio::test]
async fn rejections_panics_and_hangs_each_end_as_they_should() {
    let policy = Policy {
        max_deliveries: 2,
        backoff: vec![Duration::from_millis(100)].into(),
        ack_wait: Duration::from_secs(5),
        handler_timeout: Duration::from_millis(500),
        ..Policy::default()
    };
    let mut rig = rig("MIXED", policy.clone()).await;
    let attempts = rig.attempts.clone();
    let consumer = rig
        .durable
        .consume(spec("MIXED", policy), move |delivery| {
            attempts.lock().unwrap().push(std::time::Instant::now());
            // A panic before there is a future at all is the same failure.
            if &delivery.payload[..] == b"panics early" && delivery.delivered == 1 {
                panic!("the first attempt panics before its future");
            }
            async move {
                match (&delivery.payload[..], delivery.delivered) {
                    (b"bad", _) => Err(Status::new(Code::InvalidArgument, "no such product")),
                    (b"panics", 1) => panic!("the first attempt panics"),
                    (b"hangs", _) => std::future::pending().await,
                    _ => Ok(()),
                }
            }
        })
        .await
        .unwrap();
    for (id, payload) in [
        ("m-bad", "bad"),
        ("m-panics", "panics"),
        ("m-early", "panics early"),
        ("m-hangs", "hangs"),
    ] {
        rig.durable
            .publish("mixed.do", None, payload.into(), id, PATIENCE)
            .await
            .unwrap();
    }
    let mut reasons = Vec::new();
    for _ in 0..2 {
        let dead = within("a dead letter", rig.dead.next()).await.unwrap();
        reasons.push((
            String::from_utf8_lossy(&dead.payload).into_owned(),
            header(&dead, "Nrpc-Dlq-Reason").to_owned(),
            header(&dead, "Nrpc-Dlq-Code").to_owned(),
            header(&dead, "Nrpc-Dlq-Deliveries").to_owned(),
        ));
    }
    reasons.sort();
    assert_eq!(
        reasons,
        [
            (
                "bad".into(),
                "rejected".into(),
                "INVALID_ARGUMENT".into(),
                "1".into()
            ),
            (
                "hangs".into(),
                "exhausted".into(),
                "DEADLINE_EXCEEDED".into(),
                "2".into()
            ),
        ]
    );
    // bad once, each panic twice (then handled), hangs twice; the queue is
    // empty when every message is settled (polled, every 20 ms).
    until_empty(&rig.server, "MIXED", "every attempt").await;
    assert_eq!(rig.attempts.lock().unwrap().len(), 7);
    consumer.shutdown(Duration::from_secs(5)).await;
}

/// A handler that takes three times the ack wait is not redelivered: it
/// tells the broker it is still at work.
#[tokio::test]
async fn a_slow_handler_is_not_redelivered_while_it_works() {
    let policy = Policy {
        ack_wait: Duration::from_secs(1),
        ..Policy::default()
    };
    let rig = rig("SLOW", policy.clone()).await;
    let attempts = rig.attempts.clone();
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
    let consumer = rig
        .durable
        .consume(spec("SLOW", policy), move |_delivery| {
            attempts.lock().unwrap().push(std::time::Instant::now());
            let done = done.clone();
            async move {
                // The work itself: three ack waits long.
                tokio::time::sleep(Duration::from_secs(3)).await;
                let _ = done.send(());
                Ok(())
            }
        })
        .await
        .unwrap();
    rig.durable
        .publish("slow.do", None, "long job".into(), "s-1", PATIENCE)
        .await
        .unwrap();
    within("the job", finished.recv()).await.unwrap();
    until_empty(&rig.server, "SLOW", "the ack").await;
    assert_eq!(
        rig.attempts.lock().unwrap().len(),
        1,
        "redelivered while at work"
    );
    consumer.shutdown(Duration::from_secs(5)).await;
}

/// The next `n` items of `rx`.
async fn next_n(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        out.push(within("an event", rx.recv()).await.unwrap());
    }
    out
}

/// Events are kept: a new subscriber group reads past events from a
/// sequence or from a time, or only new ones, each in order.
#[tokio::test]
async fn a_new_group_replays_events_from_a_sequence_or_a_time() {
    let server = NatsServer::start_jetstream().unwrap();
    let durable = Durable::new(&connection(&server).await);
    let policy = Policy {
        concurrency: 1,
        max_age: Some(Duration::from_secs(3600)),
        ..Policy::default()
    };
    let shape = StreamShape::of(Durability::Event, "shop.placed", &policy);
    durable
        .provision_stream("PLACED", &shape, false)
        .await
        .unwrap();
    let mut after_third = None;
    for i in 1..=10 {
        durable
            .publish(
                "shop.placed",
                None,
                format!("e{i}").into(),
                &format!("e{i}"),
                PATIENCE,
            )
            .await
            .unwrap();
        if i == 3 {
            after_third = Some(std::time::SystemTime::now());
        }
    }
    let group = |name: &str, start: Start| {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let spec = ConsumerSpec {
            service: "shop.v1.Shop".into(),
            stream: "PLACED".into(),
            consumer: name.into(),
            subject: "shop.placed".into(),
            policy: policy.clone(),
            start,
        };
        let consuming = durable.consume(spec, move |delivery| {
            let _ = tx.send(String::from_utf8_lossy(&delivery.payload).into_owned());
            async { Ok(()) }
        });
        async move { (consuming.await.unwrap(), rx) }
    };
    let names =
        |range: std::ops::RangeInclusive<u32>| range.map(|i| format!("e{i}")).collect::<Vec<_>>();
    let (from_six, mut rx) = group("from-six", Start::Sequence(6)).await;
    assert_eq!(next_n(&mut rx, 5).await, names(6..=10));
    let (from_time, mut rx_time) = group("from-time", Start::Time(after_third.unwrap())).await;
    assert_eq!(next_n(&mut rx_time, 7).await, names(4..=10));
    let (from_now, mut rx_new) = group("from-now", Start::New).await;
    durable
        .publish("shop.placed", None, "e11".into(), "e11", PATIENCE)
        .await
        .unwrap();
    assert_eq!(next_n(&mut rx_new, 1).await, names(11..=11));
    // Every group gets each: the first two see e11 too.
    assert_eq!(next_n(&mut rx, 1).await, names(11..=11));
    assert_eq!(next_n(&mut rx_time, 1).await, names(11..=11));
    for consumer in [from_six, from_time, from_now] {
        consumer.shutdown(Duration::from_secs(5)).await;
    }
}

/// Two instances share a command consumer under load; one shuts down
/// gracefully in the middle: every command is handled, and what it had
/// fetched goes to the other at once — the run ends well within the
/// 30 s ack wait that an un-NAKed message would wait out.
#[tokio::test]
async fn a_graceful_shutdown_under_load_loses_nothing_and_hands_over_at_once() {
    let policy = Policy {
        concurrency: 4,
        ..Policy::default()
    };
    let rig = rig("SHARED", policy.clone()).await;
    let (handled, mut seen) = tokio::sync::mpsc::unbounded_channel::<(char, String)>();
    let instance = |name: char| {
        let handled = handled.clone();
        let spec = spec("SHARED", policy.clone());
        let server = &rig.server;
        async move {
            // Each instance on a connection of its own.
            Durable::new(&connection(server).await)
                .consume(spec, move |delivery| {
                    let handled = handled.clone();
                    async move {
                        // Some work, so messages wait in each instance.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        let _ = handled.send((
                            name,
                            String::from_utf8_lossy(&delivery.payload).into_owned(),
                        ));
                        Ok(())
                    }
                })
                .await
                .unwrap()
        }
    };
    let a = instance('a').await;
    let b = instance('b').await;
    const N: usize = 400;
    for i in 0..N {
        rig.durable
            .publish(
                "shared.do",
                None,
                format!("c{i}").into(),
                &format!("c{i}"),
                PATIENCE,
            )
            .await
            .unwrap();
    }
    let mut done = std::collections::HashSet::new();
    let mut by_a = 0;
    while done.len() < N / 4 {
        let (who, what) = within("a command", seen.recv()).await.unwrap();
        by_a += usize::from(who == 'a');
        done.insert(what);
    }
    a.shutdown(Duration::from_secs(5)).await;
    while done.len() < N {
        let (_, what) = within("every command, without waiting out an ack", seen.recv())
            .await
            .unwrap();
        done.insert(what);
    }
    assert!(by_a > 0, "both instances took part");
    b.shutdown(Duration::from_secs(5)).await;
    assert_eq!(messages_in(&rig.server, "SHARED").await, 0);
    // None went to the dead letters on the way (a stopping instance once
    // spent deliveries pulling after its shutdown began).
    assert_eq!(
        messages_in(
            &rig.server,
            &nrpc_wire::durable::dead_letter_stream("test.v1.Orders")
        )
        .await,
        0
    );
}

/// A message whose last delivery never settles (its instance shut down
/// past its grace while the handler hung) is caught from the broker's
/// MAX_DELIVERIES advisory by the instance still running: dead-lettered
/// with that reason, and removed from the work queue (where it would
/// otherwise stay forever); that instance's handler never sees it.
#[tokio::test]
async fn a_message_whose_last_attempt_never_ends_is_dead_lettered_from_the_advisory() {
    let policy = Policy {
        max_deliveries: 1,
        ack_wait: Duration::from_secs(1),
        handler_timeout: Duration::from_secs(600),
        ..Policy::default()
    };
    let mut rig = rig("STUCK", policy.clone()).await;
    let started = Arc::new(tokio::sync::Notify::new());
    let hung = started.clone();
    let a = Durable::new(&connection(&rig.server).await)
        .consume(spec("STUCK", policy.clone()), move |_delivery| {
            hung.notify_one();
            std::future::pending()
        })
        .await
        .unwrap();
    rig.durable
        .publish("stuck.do", None, "stuck".into(), "x-1", PATIENCE)
        .await
        .unwrap();
    within("the handler to start", started.notified()).await;
    // B comes once A has the message (its only delivery).
    let b_calls = Arc::new(Mutex::new(0));
    let counted = b_calls.clone();
    let b = Durable::new(&connection(&rig.server).await)
        .consume(spec("STUCK", policy), move |_delivery| {
            *counted.lock().unwrap() += 1;
            async { Ok(()) }
        })
        .await
        .unwrap();
    // A goes away past its grace: its hung attempt is dropped and NAKed.
    a.shutdown(Duration::from_millis(100)).await;
    let dead = within("the dead letter", rig.dead.next()).await.unwrap();
    assert_eq!(header(&dead, "Nrpc-Dlq-Reason"), "max_deliveries");
    assert_eq!(header(&dead, "Nrpc-Dlq-Deliveries"), "1");
    assert_eq!(&dead.payload[..], b"stuck");
    until_empty(&rig.server, "STUCK", "the work queue emptied").await;
    b.shutdown(Duration::from_secs(5)).await;
    assert_eq!(*b_calls.lock().unwrap(), 0);
}

/// A payload that does not decode as the handler's type goes to the dead
/// letters at once, with reason `decode`; a valid one is handled.
#[tokio::test]
async fn an_undecodable_message_is_dead_lettered_without_reaching_the_handler() {
    use nrpc_runtime::prost::Message as _;
    let policy = Policy::default();
    let mut rig = rig("TYPED", policy.clone()).await;
    let (got, mut names) = tokio::sync::mpsc::unbounded_channel();
    let consumer = rig
        .durable
        .consume_decoded(
            spec("TYPED", policy),
            move |request: nrpc_tests::greeter::HelloRequest, delivery| {
                let _ = got.send((request.name, delivery.delivered));
                async { Ok(()) }
            },
        )
        .await
        .unwrap();
    let valid = nrpc_tests::hello("ada").encode_to_vec();
    for (id, payload) in [("t-1", vec![0xff, 0xff, 0xff]), ("t-2", valid)] {
        rig.durable
            .publish("typed.do", None, payload.into(), id, PATIENCE)
            .await
            .unwrap();
    }
    let dead = within("the dead letter", rig.dead.next()).await.unwrap();
    assert_eq!(header(&dead, "Nrpc-Dlq-Reason"), "decode");
    assert_eq!(header(&dead, "Nrpc-Dlq-Code"), "INVALID_ARGUMENT");
    assert_eq!(header(&dead, "Nrpc-Dlq-Deliveries"), "1");
    assert_eq!(&dead.payload[..], [0xff, 0xff, 0xff]);
    assert_eq!(
        within("the valid one", names.recv()).await.unwrap(),
        ("ada".to_owned(), 1)
    );
    consumer.shutdown(Duration::from_secs(5)).await;
    assert!(
        names.try_recv().is_err(),
        "the handler saw only the valid one"
    );
}

/// A worker process reading durable commands, and its output lines.
struct Worker {
    child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

async fn worker(server: &NatsServer, work_ms: u64) -> Worker {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_nrpc-test-durable-worker"))
        .args(["KILLED", "killed.do", &work_ms.to_string()])
        .env("NATS_URL", server.url())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = within("the worker", lines.next_line()).await.unwrap();
    assert_eq!(ready.as_deref(), Some("ready"));
    Worker { child, lines }
}

/// A worker killed (-9) in the middle of its handlers: what it had not
/// finished is redelivered to the other worker after the ack wait; none is
/// lost.
#[tokio::test]
async fn a_worker_killed_mid_handlers_loses_nothing() {
    let server = NatsServer::start_jetstream().unwrap();
    let durable = Durable::new(&connection(&server).await);
    let shape = StreamShape::of(Durability::Command, "killed.do", &Policy::default());
    durable
        .provision_stream("KILLED", &shape, false)
        .await
        .unwrap();
    // A slow worker takes the first commands and is killed while at work.
    let mut slow = worker(&server, 60_000).await;
    const N: usize = 20;
    for i in 0..N {
        durable
            .publish(
                "killed.do",
                None,
                format!("c{i}").into(),
                &format!("c{i}"),
                PATIENCE,
            )
            .await
            .unwrap();
    }
    let mut started = 0;
    while started < 4 {
        let line = within("a handler to start", slow.lines.next_line())
            .await
            .unwrap()
            .unwrap();
        started += usize::from(line.starts_with("start "));
    }
    slow.child.kill().await.unwrap();
    // A fast one gets everything, the killed worker's commands included.
    let mut fast = worker(&server, 1).await;
    let mut done = std::collections::HashSet::new();
    while done.len() < N {
        let line = within("every command", fast.lines.next_line())
            .await
            .unwrap()
            .unwrap();
        if let Some(payload) = line.strip_prefix("done ") {
            done.insert(payload.to_owned());
        }
    }
    fast.child.kill().await.unwrap();
}

/// 100,000 commands published while no consumer runs, the broker killed
/// (-9) and restarted twice meanwhile: the stream holds each exactly once
/// (publishes retried across the restarts keep their ids), and a consumer
/// started afterwards handles every one; redeliveries are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_commands_survive_two_broker_kills() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const N: usize = 100_000;
    const PUBLISHERS: usize = 64;
    let server = NatsServer::start_jetstream().unwrap();
    let durable = Durable::new(&connection(&server).await);
    let shape = StreamShape::of(Durability::Command, "bulk.do", &Policy::default());
    durable
        .provision_stream("BULK", &shape, false)
        .await
        .unwrap();
    let acked = Arc::new(AtomicUsize::new(0));
    let started = std::time::Instant::now();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let (durable, acked) = (durable.clone(), acked.clone());
            tokio::spawn(async move {
                for i in (p..N).step_by(PUBLISHERS) {
                    let id = format!("b{i}");
                    // Each is retried with its id until stored (or 60 s).
                    durable
                        .publish(
                            "bulk.do",
                            None,
                            id.clone().into(),
                            &id,
                            Duration::from_secs(60),
                        )
                        .await
                        .unwrap_or_else(|e| panic!("{id}: {e}"));
                    acked.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Kill and restart the broker at a third and at two thirds.
    let mut server = server;
    for at in [N / 3, 2 * N / 3] {
        within("publishing to go on", async {
            while acked.load(Ordering::Relaxed) < at {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        server = tokio::task::spawn_blocking(move || {
            server.restart().unwrap();
            server
        })
        .await
        .unwrap();
    }
    for publisher in publishers {
        tokio::time::timeout(Duration::from_secs(120), publisher)
            .await
            .expect("publishing ends")
            .unwrap();
    }
    let published = started.elapsed();
    assert_eq!(
        messages_in(&server, "BULK").await,
        N as u64,
        "each stored once"
    );
    // Now the consumer.
    let started = std::time::Instant::now();
    let seen = Arc::new(Mutex::new(std::collections::HashMap::<Bytes, u32>::new()));
    let (all, mut everything) = tokio::sync::oneshot::channel::<()>();
    let all = Arc::new(Mutex::new(Some(all)));
    let counting = seen.clone();
    let consumer = durable
        .consume(
            ConsumerSpec {
                policy: Policy {
                    concurrency: 256,
                    ..Policy::default()
                },
                ..spec("BULK", Policy::default())
            },
            move |delivery| {
                let mut seen = counting.lock().unwrap();
                *seen.entry(delivery.payload).or_default() += 1;
                if seen.len() == N {
                    if let Some(all) = all.lock().unwrap().take() {
                        let _ = all.send(());
                    }
                }
                async { Ok(()) }
            },
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(120), &mut everything)
        .await
        .expect("every command handled")
        .unwrap();
    let consumed = started.elapsed();
    consumer.shutdown(Duration::from_secs(5)).await;
    let seen = seen.lock().unwrap();
    let redelivered: u32 = seen.values().map(|n| n - 1).sum();
    println!(
        "{N} commands: published in {published:.1?} across two broker kills, \
         handled in {consumed:.1?}; {redelivered} handled more than once"
    );
    assert_eq!(seen.len(), N);
}

/// A consumer counts what it acked, retried and dead-lettered (by
/// reason), and its redeliveries, by stream and consumer, and reports its
/// lag; publishers count the duplicates the broker dropped.
#[tokio::test]
async fn a_consumer_counts_its_outcomes() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    // This binary's only recorder; this test alone takes snapshots.
    let recorder = DebuggingRecorder::new();
    let snapshots = recorder.snapshotter();
    recorder.install().unwrap();
    let policy = Policy {
        max_deliveries: 2,
        backoff: vec![Duration::from_millis(50)].into(),
        ..Policy::default()
    };
    let mut rig = rig("COUNTED", policy.clone()).await;
    let consumer = rig
        .durable
        .consume(spec("COUNTED", policy), |delivery| async move {
            match (&delivery.payload[..], delivery.delivered) {
                (b"bad", _) => Err(Status::new(Code::InvalidArgument, "no")),
                (b"flaky", 1) => Err(Status::new(Code::Unavailable, "not yet")),
                _ => Ok(()),
            }
        })
        .await
        .unwrap();
    for payload in ["ok", "bad", "flaky", "ok"] {
        rig.durable
            .publish("counted.do", None, payload.into(), payload, PATIENCE)
            .await
            .unwrap();
    }
    within("the dead letter", rig.dead.next()).await.unwrap();
    until_empty(&rig.server, "COUNTED", "the queue emptied").await;
    consumer.shutdown(Duration::from_secs(5)).await;
    let snapshot = snapshots.snapshot().into_vec();
    let counter = |name: &str, reason: Option<&str>| {
        snapshot
            .iter()
            .find_map(|(key, _, _, value)| {
                let k = key.key();
                let ours = k.name() == name
                    && k.labels()
                        .any(|l| l.key() == "stream" && l.value() == "COUNTED")
                    && reason
                        .is_none_or(|r| k.labels().any(|l| l.key() == "reason" && l.value() == r));
                match (ours, value) {
                    (true, DebugValue::Counter(n)) => Some(*n),
                    _ => None,
                }
            })
            .unwrap_or(0)
    };
    assert_eq!(
        counter("nrpc_durable_acked_total", None),
        2,
        "ok, and flaky the second time"
    );
    assert_eq!(counter("nrpc_durable_retried_total", None), 1);
    assert_eq!(
        counter("nrpc_durable_dead_letters_total", Some("rejected")),
        1
    );
    assert_eq!(
        counter("nrpc_durable_dead_letters_total", Some("exhausted")),
        0
    );
    assert_eq!(counter("nrpc_durable_redeliveries_total", None), 1);
    assert_eq!(
        counter("nrpc_durable_duplicates_total", None),
        1,
        "the second ok, stored once"
    );
    let lag = snapshot.iter().find_map(|(key, _, _, value)| {
        let k = key.key();
        let ours = k.name() == "nrpc_durable_pending"
            && k.labels()
                .any(|l| l.key() == "stream" && l.value() == "COUNTED");
        match (ours, value) {
            (true, DebugValue::Gauge(v)) => Some(v.into_inner()),
            _ => None,
        }
    });
    assert_eq!(lag, Some(0.0), "the lag, as the last delivery said it");
}

/// A consumer of `name` with the default policy that passes on each
/// payload it handles.
async fn recording(
    rig: &Rig,
    name: &str,
) -> (ConsumerHandle, tokio::sync::mpsc::UnboundedReceiver<Bytes>) {
    let (got, handled) = tokio::sync::mpsc::unbounded_channel();
    let consumer = rig
        .durable
        .consume(spec(name, Policy::default()), move |delivery| {
            let _ = got.send(delivery.payload);
            async { Ok(()) }
        })
        .await
        .unwrap();
    (consumer, handled)
}

/// A consumer deleted under a running instance (by an operator, an
/// expiry) is made again as declared, and the commands published after go
/// on being handled.
#[tokio::test]
async fn a_deleted_consumer_is_made_again() {
    let rig = rig("REMADE", Policy::default()).await;
    let (consumer, mut handled) = recording(&rig, "REMADE").await;
    rig.durable
        .publish("remade.do", None, "before".into(), "r-1", PATIENCE)
        .await
        .unwrap();
    assert_eq!(
        &within("the first", handled.recv()).await.unwrap()[..],
        b"before"
    );
    let js = jetstream::new(async_nats::connect(rig.server.url()).await.unwrap());
    let stream = js.get_stream("REMADE").await.unwrap();
    assert!(stream.delete_consumer("nrpc").await.unwrap().success);
    rig.durable
        .publish("remade.do", None, "after".into(), "r-2", PATIENCE)
        .await
        .unwrap();
    assert_eq!(
        &within("the one after", handled.recv()).await.unwrap()[..],
        b"after"
    );
    consumer.shutdown(Duration::from_secs(5)).await;
}

/// A consumer goes on across a broker kill (-9) and restart: commands
/// published after it are handled (each pull lasts a second, so none
/// stalls on the broker that went away).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_goes_on_across_a_broker_restart() {
    let rig = rig("ONWARD", Policy::default()).await;
    let (consumer, mut handled) = recording(&rig, "ONWARD").await;
    let Rig {
        server, durable, ..
    } = rig;
    let server = tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.restart().unwrap();
        server
    })
    .await
    .unwrap();
    durable
        .publish("onward.do", None, "after".into(), "o-1", PATIENCE)
        .await
        .unwrap();
    assert_eq!(
        &within("the command after the restart", handled.recv())
            .await
            .unwrap()[..],
        b"after"
    );
    consumer.shutdown(Duration::from_secs(5)).await;
    drop(server);
}
