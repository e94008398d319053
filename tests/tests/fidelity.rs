//! What Go nRPC users and the NATS tools expect of us: polling Go servers
//! on the method subject, why a broadcast ended, events in JSON, subject
//! accessors, cancellation that leaves before the program does, and
//! stream timeouts that keepalives can meet.

use std::time::Duration;

use futures::StreamExt;
use nrpc_runtime::{BroadcastEnd, BroadcastOptions, BroadcastVia, Encoding};
use nrpc_tests::alloptions::svc_custom_subject_client::SvcCustomSubjectClient;
use nrpc_tests::alloptions::svc_custom_subject_server::{
    SvcCustomSubjectEvents, SvcCustomSubjectServer,
};
use nrpc_tests::alloptions::svc_subject_params_client::SvcSubjectParamsClient;
use nrpc_tests::alloptions::{SimpleStringReply, StringArg};
use nrpc_tests::{connection, nats, nats_server, serve, within, CustomSubject};
use prost::Message;

/// A Go nRPC server instance as Go's generated code behaves: a plain
/// subscription (no queue group) on the method subject, replies without
/// headers.
async fn go_instance(server: &nrpc_tests::NatsServer, subject: String, label: &'static str) {
    let raw = nats(server).await;
    let mut sub = raw.subscribe(subject).await.unwrap();
    raw.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let Some(reply) = msg.reply else { continue };
            let arg = StringArg::decode(msg.payload).unwrap_or_default().arg1;
            let answer = SimpleStringReply {
                reply: format!("{label} {arg}"),
            };
            let _ = raw.publish(reply, answer.encode_to_vec().into()).await;
        }
    });
}

fn quick() -> BroadcastOptions {
    BroadcastOptions::new()
        .idle_gap(Duration::from_secs(2))
        .timeout(Duration::from_secs(15))
}

#[tokio::test]
async fn polling_go_servers_on_the_method_subject() {
    let server = nats_server();
    let client = SvcSubjectParamsClient::new(connection(&server).await, "default", "me").unwrap();
    let subject = client.mt_poll_subject(Encoding::Protobuf).unwrap();
    assert_eq!(subject, "root.default.svcsubjectparams.me.mtpoll");
    go_instance(&server, subject.clone(), "go-a").await;
    go_instance(&server, subject, "go-b").await;

    // nrpc's routing prefix reaches no Go server: an empty result at once.
    let mut none = within(
        "prefix",
        client.mt_poll_broadcast(&StringArg::default(), quick()),
    )
    .await
    .unwrap();
    assert!(within("no replies", none.next()).await.is_none());
    assert_eq!(none.end(), Some(BroadcastEnd::NoResponders));

    // Go's Poll: the method subject, per call or for the client.
    let arg = StringArg { arg1: "hi".into() };
    for stream in [
        client
            .mt_poll_broadcast(&arg, quick().via(BroadcastVia::MethodSubject))
            .await
            .unwrap(),
        client
            .clone()
            .with_broadcast_via(BroadcastVia::MethodSubject)
            .mt_poll_broadcast(&arg, quick())
            .await
            .unwrap(),
    ] {
        let mut stream = stream;
        let mut replies = Vec::new();
        while let Some(r) = within("replies", stream.next()).await {
            replies.push(r.result.unwrap().into_inner().reply);
        }
        replies.sort();
        assert_eq!(replies, ["go-a hi", "go-b hi"]);
        assert_eq!(stream.end(), Some(BroadcastEnd::IdleGap));
    }
}

#[tokio::test]
async fn a_broadcast_says_why_it_ended() {
    let server = nats_server();
    let client = SvcSubjectParamsClient::new(connection(&server).await, "default", "me").unwrap();
    let subject = client.mt_poll_subject(Encoding::Protobuf).unwrap();
    go_instance(&server, subject.clone(), "a").await;
    go_instance(&server, subject, "b").await;
    // ANCHOR: go_polling
    let go = client.with_broadcast_via(BroadcastVia::MethodSubject);
    // ANCHOR_END: go_polling
    let cases = [
        (quick().max_replies(1), BroadcastEnd::MaxReplies),
        (
            BroadcastOptions::new()
                .idle_gap(Duration::from_secs(60))
                .timeout(Duration::from_millis(500)),
            BroadcastEnd::Deadline,
        ),
        (quick(), BroadcastEnd::IdleGap),
    ];
    for (options, why) in cases {
        let mut stream = go
            .mt_poll_broadcast(&StringArg::default(), options)
            .await
            .unwrap();
        assert_eq!(stream.end(), None);
        while within("replies", stream.next()).await.is_some() {}
        assert_eq!(stream.end(), Some(why));
    }
}

#[tokio::test]
async fn events_in_json_and_subject_accessors() {
    let server = nats_server();
    let conn = connection(&server).await;
    let client = SvcCustomSubjectClient::new(conn.clone(), "default")
        .unwrap()
        .with_encoding(Encoding::Json);
    let subject = client.mt_no_request_subject(Encoding::Json).unwrap();
    assert!(subject.ends_with(".json"), "{subject}");
    // A subscriber that is not nrpc sees JSON on the .json subject.
    let raw = nats(&server).await;
    let mut spy = raw.subscribe(subject).await.unwrap();
    raw.flush().await.unwrap();
    let mut typed = client.subscribe_mt_no_request(None).await.unwrap();
    let publisher = SvcCustomSubjectEvents::new(connection(&server).await, "default")
        .unwrap()
        .with_encoding(Encoding::Json);
    let event = SimpleStringReply {
        reply: "shipped".into(),
    };
    publisher.publish_mt_no_request(&event).await.unwrap();
    let seen = within("raw JSON", spy.next()).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&seen.payload).unwrap();
    assert_eq!(json["reply"], "shipped");
    let got = within("typed", typed.next()).await.unwrap().unwrap();
    assert_eq!(got, event);
}

#[tokio::test]
async fn cancelling_a_stream_reaches_the_server_before_the_program_exits() {
    let server = nats_server();
    let (service, mut events) = CustomSubject::new();
    let _h = serve(&server, SvcCustomSubjectServer::new(service)).await;
    // A spy on every stream's heartbeat subject sees nRPC's lastbeat.
    let raw = nats(&server).await;
    let mut heartbeats = raw.subscribe("_INBOX.*.*.heartbeat").await.unwrap();
    raw.flush().await.unwrap();
    {
        let client = SvcCustomSubjectClient::new(connection(&server).await, "default").unwrap();
        let mut stream = client
            .mt_streamed_reply(&StringArg {
                arg1: "wait".into(),
            })
            .await
            .unwrap();
        within("first item", stream.next()).await.unwrap().unwrap();
        stream.cancel().await;
        // The client, its connection and its runtime tasks go away here,
        // as when a program returns from main.
    }
    within("lastbeat", async {
        loop {
            let msg = heartbeats.next().await.unwrap();
            if nrpc_wire::stream::is_lastbeat(Encoding::Protobuf, &msg.payload) {
                return;
            }
        }
    })
    .await;
    nrpc_tests::cancelled(&mut events, "wait").await;
}

#[tokio::test]
async fn a_stream_timeout_shorter_than_the_keepalive_does_not_end_a_healthy_stream() {
    let server = nats_server();
    let (service, mut events) = CustomSubject::new();
    let _h = serve(&server, SvcCustomSubjectServer::new(service)).await;
    let client = SvcCustomSubjectClient::new(connection(&server).await, "default")
        .unwrap()
        .with_timeout(Duration::from_millis(200));
    let mut stream = client
        .mt_streamed_reply(&StringArg {
            arg1: "wait".into(),
        })
        .await
        .unwrap();
    within("first item", stream.next()).await.unwrap().unwrap();
    // The server now sends only keepalives (one a second). With 200 ms
    // taken literally the stream would fail within 200 ms; it lasts.
    let quiet = tokio::time::timeout(Duration::from_millis(1500), stream.next()).await;
    assert!(quiet.is_err(), "the stream ended: {quiet:?}");
    drop(stream);
    nrpc_tests::cancelled(&mut events, "wait").await;
}
