//! The bytes and subjects on the wire equal nRPC's (Go protoc-gen-nrpc and
//! its runtime), captured with a raw NATS subscriber.

use std::time::Duration;

use async_nats::Message;
use futures::StreamExt;
use nrpc_runtime::{Request, Response, Status};
use nrpc_tests::alloptions::svc_custom_subject_client::SvcCustomSubjectClient;
use nrpc_tests::alloptions::svc_subject_params_client::SvcSubjectParamsClient;
use nrpc_tests::alloptions::{StringArg, SVC_CUSTOM_SUBJECT_SPEC, SVC_SUBJECT_PARAMS_SPEC};
use nrpc_tests::helloworld::greeter_client::GreeterClient;
use nrpc_tests::helloworld::greeter_server::{Greeter, GreeterServer};
use nrpc_tests::helloworld::{HelloReply, HelloRequest, GREETER_SPEC};
use nrpc_tests::{connection, nats, nats_server, serve, within};

struct Hello;

impl Greeter for Hello {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        match request.into_inner().name.as_str() {
            "server-error" => Err(Status::internal("Some error")),
            "client-error" => Err(Status::invalid_argument("anerror")),
            name => Ok(Response::new(HelloReply {
                message: format!("Hello {name}"),
            })),
        }
    }
}

/// Records every message on the server, in order.
async fn tap(nats: &async_nats::Client) -> async_nats::Subscriber {
    let sub = nats.subscribe(">").await.unwrap();
    nats.flush().await.unwrap();
    sub
}

async fn next_on(sub: &mut async_nats::Subscriber, prefix: &str) -> Message {
    within("tapped message", async {
        loop {
            let msg = sub.next().await.expect("tap ended");
            if msg.subject.starts_with(prefix) {
                return msg;
            }
        }
    })
    .await
}

#[tokio::test]
async fn request_reply_and_error_bytes_equal_nrpc() {
    let server = nats_server();
    let raw = nats(&server).await;
    let mut wire = tap(&raw).await;
    let _h = serve(&server, GreeterServer::new(Hello)).await;
    let client = GreeterClient::new(connection(&server).await);

    let reply = within(
        "call",
        client.say_hello(&HelloRequest {
            name: "world".into(),
        }),
    )
    .await
    .unwrap();
    assert_eq!(reply.message, "Hello world");
    let request = next_on(&mut wire, "Greeter.").await;
    assert_eq!(request.subject.as_str(), "Greeter.SayHello");
    assert_eq!(
        &request.payload[..],
        b"\x0a\x05world",
        "plain HelloRequest, no envelope"
    );
    let answer = next_on(&mut wire, "_INBOX.").await;
    assert_eq!(
        &answer.payload[..],
        b"\x0a\x0bHello world",
        "plain HelloReply"
    );

    let err = within(
        "server error",
        client.say_hello(&HelloRequest {
            name: "server-error".into(),
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status().map(|s| s.message()), Some("Some error"));
    next_on(&mut wire, "Greeter.").await;
    let answer = next_on(&mut wire, "_INBOX.").await;
    assert_eq!(
        &answer.payload[..],
        &[
            0x00, 0x08, 0x01, 0x12, 0x0a, b'S', b'o', b'm', b'e', b' ', b'e', b'r', b'r', b'o',
            b'r'
        ],
        "Error{{SERVER, \"Some error\"}}"
    );

    let _ = within(
        "client error",
        client.say_hello(&HelloRequest {
            name: "client-error".into(),
        }),
    )
    .await;
    next_on(&mut wire, "Greeter.").await;
    let answer = next_on(&mut wire, "_INBOX.").await;
    assert_eq!(
        &answer.payload[..],
        b"\x00\x12\x07anerror",
        "Error{{CLIENT, \"anerror\"}}"
    );
}

#[tokio::test]
async fn a_go_style_plain_request_is_answered() {
    // A Go nRPC client sends no headers and uses its own inbox.
    let server = nats_server();
    let _h = serve(&server, GreeterServer::new(Hello)).await;
    let raw = nats(&server).await;
    let msg = within(
        "plain request",
        raw.request("Greeter.SayHello", b"\x0a\x02Go".as_ref().into()),
    )
    .await
    .unwrap();
    assert_eq!(&msg.payload[..], b"\x0a\x08Hello Go");
    assert!(
        msg.headers.is_none(),
        "a success reply without metadata carries no headers"
    );
}

#[tokio::test]
async fn subjects_equal_the_go_generator_examples() {
    let server = nats_server();
    let raw = nats(&server).await;
    let mut wire = tap(&raw).await;
    let conn = connection(&server).await;
    // Short, but long enough to be sent: an expired call never leaves.
    let short = Duration::from_millis(200);

    let custom = SvcCustomSubjectClient::new(conn.clone(), "default")
        .unwrap()
        .with_timeout(short);
    let _ = custom.mt_simple_reply(&StringArg::default()).await;
    let msg = next_on(&mut wire, "root.").await;
    assert_eq!(
        msg.subject.as_str(),
        "root.default.custom_subject.mt_simple_reply"
    );

    let params = SvcSubjectParamsClient::new(conn.clone(), "default", "me")
        .unwrap()
        .with_timeout(short);
    let _ = params.mt_with_subject_params("p1", "p2").await;
    let msg = next_on(&mut wire, "root.").await;
    assert_eq!(
        msg.subject.as_str(),
        "root.default.svcsubjectparams.me.mtwithsubjectparams.p1.p2"
    );

    let hello = GreeterClient::new(conn).with_timeout(short);
    let _ = hello.say_hello(&HelloRequest::default()).await;
    let msg = next_on(&mut wire, "Greeter.").await;
    assert_eq!(msg.subject.as_str(), "Greeter.SayHello");
}

#[test]
fn server_subscriptions_equal_go_servers() {
    assert_eq!(GREETER_SPEC.server_pattern(None), "Greeter.>");
    assert_eq!(
        SVC_CUSTOM_SUBJECT_SPEC.server_pattern(None),
        "root.*.custom_subject.>"
    );
    assert_eq!(
        SVC_SUBJECT_PARAMS_SPEC.server_pattern(None),
        "root.*.svcsubjectparams.*.>"
    );
    // TOLOWER applies to method names without methodSubject.
    let subjects: Vec<_> = SVC_CUSTOM_SUBJECT_SPEC
        .methods
        .iter()
        .map(|m| &*m.subject)
        .collect();
    assert_eq!(
        subjects,
        [
            "mt_simple_reply",
            "mtvoidreply",
            "mtnorequest",
            "mtstreamedreply",
            "mtvoidreqstreamedreply"
        ]
    );
}
