//! Durable delivery over JetStream, against a real nats-server with
//! JetStream on a temporary file store (nats-harness).

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use async_nats::jetstream;
use nats_harness::NatsServer;
use nrpc_tests::within;

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
