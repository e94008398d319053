//! Every failure has a defined outcome the caller can tell apart.

use std::time::Duration;

use futures::StreamExt;
use nrpc_runtime::{CallError, CallOptions, Code};
use nrpc_tests::alloptions::svc_subject_params_client::SvcSubjectParamsClient;
use nrpc_tests::greeter::greeter_client::GreeterClient;
use nrpc_tests::greeter::{EchoMessage, FailRequest};
use nrpc_tests::{connection, hello, nats, nats_server, serve_greeter, within, Event, NatsServer};

#[tokio::test]
async fn handler_status_reaches_the_caller_with_its_code() {
    let server = nats_server();
    let _h = serve_greeter(&server, "a").await;
    let client = GreeterClient::new(connection(&server).await);
    for code in [
        Code::NotFound,
        Code::PermissionDenied,
        Code::Internal,
        Code::Unavailable,
        Code::DeadlineExceeded,
    ] {
        for encoding in [
            nrpc_runtime::Encoding::Protobuf,
            nrpc_runtime::Encoding::Json,
        ] {
            let req = FailRequest {
                code: code.as_i32(),
                message: format!("boom {code}"),
            };
            let err = within(
                "fail call",
                client.fail_with(&req, CallOptions::new().encoding(encoding)),
            )
            .await
            .unwrap_err();
            let status = err
                .status()
                .unwrap_or_else(|| panic!("remote status expected, got {err:?}"));
            assert_eq!(status.code(), code);
            assert_eq!(status.message(), format!("boom {code}"));
        }
    }
}

#[tokio::test]
async fn error_replies_carry_nats_service_headers() {
    let server = nats_server();
    let _h = serve_greeter(&server, "a").await;
    let raw = nats(&server).await;
    let req = FailRequest {
        code: Code::NotFound.as_i32(),
        message: "no such user".into(),
    };
    let msg = within(
        "raw request",
        raw.request("demo.Greeter.Fail", prost_encode(&req).into()),
    )
    .await
    .unwrap();
    let headers = msg.headers.expect("error reply has headers");
    assert_eq!(
        headers.get("Nats-Service-Error").map(|v| v.as_str()),
        Some("no such user")
    );
    assert_eq!(
        headers.get("Nats-Service-Error-Code").map(|v| v.as_str()),
        Some("404")
    );
    assert_eq!(headers.get("Nrpc-Code").map(|v| v.as_str()), Some("5"));
    // The payload is nRPC's: 0x00 + Error{CLIENT, "no such user"}.
    assert_eq!(&msg.payload[..], b"\x00\x12\x0cno such user");
}

fn prost_encode(m: &impl nrpc_runtime::prost::Message) -> Vec<u8> {
    m.encode_to_vec()
}

#[tokio::test]
async fn undecodable_request_gets_a_bad_request_client_error() {
    let server = nats_server();
    let _h = serve_greeter(&server, "a").await;
    let raw = nats(&server).await;
    // Field 1 as a length-delimited string claiming 100 bytes that are not there.
    let msg = within(
        "raw",
        raw.request("demo.Greeter.SayHello", vec![0x0a, 100, 1].into()),
    )
    .await
    .unwrap();
    let frame = nrpc_wire::ErrorFrame::decode(nrpc_runtime::Encoding::Protobuf, &msg.payload)
        .unwrap()
        .expect("error reply");
    assert_eq!(frame.kind, nrpc_runtime::ErrorType::Client);
    assert!(
        frame.message.starts_with("bad request received"),
        "{}",
        frame.message
    );

    let msg = within(
        "raw json",
        raw.request("demo.Greeter.SayHello.json", "{not json".into()),
    )
    .await
    .unwrap();
    let frame = nrpc_wire::ErrorFrame::decode(nrpc_runtime::Encoding::Json, &msg.payload)
        .unwrap()
        .expect("error reply");
    assert_eq!(frame.kind, nrpc_runtime::ErrorType::Client);
}

#[tokio::test]
async fn unknown_method_and_bad_routing_get_client_errors_not_silence() {
    let server = nats_server();
    let _h = serve_greeter(&server, "a").await;
    let raw = nats(&server).await;
    for (subject, expect) in [
        ("demo.Greeter.Nope", "unknown name: Nope"),
        ("demo.Greeter.sayhello", "unknown name: sayhello"),
        (
            "demo.Greeter.SayHello.extra.protobuf",
            "takes 0 subject parameters",
        ),
        ("demo.Greeter.SayHello.xml", "unknown encoding: xml"),
    ] {
        let msg = within("raw", raw.request(subject, "".into()))
            .await
            .unwrap();
        let frame = nrpc_wire::ErrorFrame::decode(nrpc_runtime::Encoding::Protobuf, &msg.payload)
            .unwrap()
            .unwrap_or_else(|| panic!("{subject}: error reply expected"));
        assert_eq!(frame.kind, nrpc_runtime::ErrorType::Client, "{subject}");
        assert!(
            frame.message.contains(expect),
            "{subject}: {}",
            frame.message
        );
    }
}

#[tokio::test]
async fn handler_panic_is_a_server_error_and_the_server_keeps_serving() {
    let server = nats_server();
    let _h = serve_greeter(&server, "a").await;
    let client = GreeterClient::new(connection(&server).await);
    let err = within("panicking call", client.say_hello(&hello("panic")))
        .await
        .unwrap_err();
    let status = err.status().expect("remote status");
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.code().nrpc_type(), nrpc_runtime::ErrorType::Server);
    // The panic's message is logged, not sent (Server::send_panic_messages).
    assert_eq!(status.message(), "handler panicked");
    let reply = within("next call", client.say_hello(&hello("after")))
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello, after");
}

#[tokio::test]
async fn invalid_subject_params_are_rejected_before_sending() {
    let server = nats_server();
    let raw = nats(&server).await;
    let mut everything = raw.subscribe("root.>").await.unwrap();
    raw.flush().await.unwrap();
    let conn = connection(&server).await;
    for bad in ["", "a.b", "*", ">", "has space", "tab\t"] {
        let err = SvcSubjectParamsClient::new(conn.clone(), bad, "c").unwrap_err();
        assert_eq!(err.value, bad);
        let client = SvcSubjectParamsClient::new(conn.clone(), "ok", "c").unwrap();
        let err = client.mt_with_subject_params(bad, "x").await.unwrap_err();
        assert!(
            matches!(err, CallError::InvalidSubject(_)),
            "{bad:?}: {err:?}"
        );
    }
    // A valid call afterwards is the first thing on the wire.
    let client = SvcSubjectParamsClient::new(conn, "ok", "c")
        .unwrap()
        .with_timeout(Duration::from_millis(100));
    let _ = client.mt_with_subject_params("p1", "p2").await;
    let first = within("first message", everything.next()).await.unwrap();
    assert_eq!(
        first.subject.as_str(),
        "root.ok.svcsubjectparams.c.mtwithsubjectparams.p1.p2"
    );
}

#[tokio::test]
async fn no_responders_is_reported_at_once_not_as_a_timeout() {
    let server = nats_server();
    // Far longer than the test's patience: a timeout would fail `within`.
    let client =
        GreeterClient::new(connection(&server).await).with_timeout(Duration::from_secs(600));
    let err = within("call without servers", client.say_hello(&hello("anyone")))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::NoResponders { .. }), "{err:?}");
}

#[tokio::test]
async fn timeout_when_the_handler_is_too_slow_and_the_handler_is_cancelled() {
    let server = nats_server();
    let (_h, mut events, _gate) = serve_greeter(&server, "a").await;
    let client = GreeterClient::new(connection(&server).await);
    let err = within(
        "slow call",
        client.say_hello_with(
            &hello("forever-1"),
            CallOptions::new().timeout(Duration::from_millis(200)),
        ),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, CallError::Timeout(d) if d == Duration::from_millis(200)),
        "{err:?}"
    );
    assert!(err.is_timeout());
    // The server learnt the deadline from the request and dropped the work.
    nrpc_tests::cancelled(&mut events, "forever-1").await;
}

#[tokio::test]
async fn payload_over_max_payload_is_refused_before_sending() {
    let server = NatsServer::start_with_config("max_payload: 2048").unwrap();
    let (_h, _events, _gate) = serve_greeter(&server, "a").await;
    let conn = connection(&server).await;
    let client = GreeterClient::new(conn.clone());
    let big = EchoMessage {
        payload: vec![7; 4096],
    };
    let err = within("big call", client.echo(&big)).await.unwrap_err();
    match err {
        CallError::PayloadTooLarge { size, max } => {
            assert_eq!(max, 2048);
            assert!(size > 4096, "{size}");
        }
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    }
    // The connection is still fine for calls that fit.
    let small = EchoMessage {
        payload: vec![1; 100],
    };
    assert_eq!(
        within("small call", client.echo(&small)).await.unwrap(),
        small
    );
    assert_eq!(conn.pending_calls(), 0);
}

#[tokio::test]
async fn undecodable_reply_is_a_decode_error() {
    let server = nats_server();
    let raw = nats(&server).await;
    let mut fake = raw.subscribe("demo.Greeter.>").await.unwrap();
    raw.flush().await.unwrap();
    let responder = tokio::spawn(async move {
        while let Some(msg) = fake.next().await {
            if let Some(reply) = msg.reply {
                // A truncated length-delimited field: not a HelloReply.
                raw.publish(reply, vec![0x0a, 50, 1].into()).await.unwrap();
            }
        }
    });
    let client = GreeterClient::new(connection(&server).await);
    let err = within("call", client.say_hello(&hello("x")))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Decode(_)), "{err:?}");
    // The decoder's own error is kept: prost's, under the reply's.
    let decode = std::error::Error::source(&err).expect("the decode error");
    let prost = decode.source().expect("prost's error");
    assert!(
        prost.downcast_ref::<prost::DecodeError>().is_some(),
        "{prost:?}"
    );
    responder.abort();
}

#[tokio::test]
async fn closed_connection_fails_waiting_and_later_calls() {
    let server = nats_server();
    let (_h, mut events, _gate) = serve_greeter(&server, "a").await;
    let nats_client = nats(&server).await;
    let conn = nrpc_runtime::Connection::new(nats_client.clone())
        .await
        .unwrap();
    let client = GreeterClient::new(conn);
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.say_hello(&hello("wait-close")).await }
    });
    assert_eq!(
        within("handler start", events.recv()).await,
        Some(Event::Started("wait-close".into()))
    );
    nats_client.drain().await.unwrap();
    let err = within("waiting call", waiting).await.unwrap().unwrap_err();
    assert!(matches!(err, CallError::Closed), "{err:?}");
    let err = within("later call", client.say_hello(&hello("late")))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Closed), "{err:?}");
}

#[tokio::test]
async fn absurd_deadline_headers_do_not_hurt_the_server() {
    let server = nats_server();
    let _h = serve_greeter(&server, "a").await;
    let raw = nats(&server).await;
    for value in ["18446744073709551615", "-5", "soon", ""] {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nrpc-Timeout", value);
        let msg = within(
            "request",
            raw.request_with_headers(
                "demo.Greeter.SayHello",
                headers,
                b"\x0a\x01z".as_ref().into(),
            ),
        )
        .await
        .unwrap();
        assert_eq!(
            &msg.payload[..],
            b"\x0a\x08Hello, z",
            "Nrpc-Timeout: {value:?}"
        );
    }
}
