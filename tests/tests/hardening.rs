//! Bad and oversized input, from either side, gets a defined outcome at
//! once: nothing is dropped silently, nothing panics, memory stays bounded.

use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;
use nrpc_runtime::{CallError, CallOptions, Code};
use nrpc_tests::alloptions::svc_custom_subject_client::SvcCustomSubjectClient;
use nrpc_tests::alloptions::svc_custom_subject_server::SvcCustomSubjectServer;
use nrpc_tests::alloptions::StringArg;
use nrpc_tests::chat::chat_client::ChatClient;
use nrpc_tests::chat::Word;
use nrpc_tests::greeter::greeter_client::GreeterClient;
use nrpc_tests::greeter::FailRequest;
use nrpc_tests::{
    connection, hello, nats, nats_server, serve, serve_greeter, within, CustomSubject,
};
use nrpc_wire::{headers, Encoding, ErrorFrame};

/// A client whose timeout is far beyond PATIENCE: a call that ends in time
/// ended because of an answer, not because it gave up.
async fn patient_greeter(server: &nats_harness::NatsServer) -> GreeterClient {
    GreeterClient::new(connection(server).await).with_timeout(Duration::from_secs(120))
}

#[tokio::test]
async fn a_reply_too_large_for_nats_is_an_error_at_once() {
    let server = nats_server();
    let (_h, _events, _gate) = serve_greeter(&server, "big").await;
    let client = patient_greeter(&server).await;
    let max = connection(&server).await.nats().max_payload();
    let err = within(
        "big reply",
        client.say_hello(&hello(&format!("big:{}", max + 1))),
    )
    .await
    .unwrap_err();
    let status = err.status().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.message().contains("max_payload"), "{status}");
    // The service goes on.
    let ok = within("next call", client.say_hello(&hello("after"))).await;
    assert_eq!(ok.unwrap().message, "Hello, after");
}

#[tokio::test]
async fn a_huge_error_message_arrives_cut_short_with_its_code() {
    let server = nats_server();
    let (_h, _events, _gate) = serve_greeter(&server, "long").await;
    let client = patient_greeter(&server).await;
    // 900 kB: fits a request, but twice over (frame and header) would not
    // fit one reply.
    let text = "é".repeat(450_000);
    let request = FailRequest {
        code: Code::NotFound.as_i32(),
        message: text,
    };
    let err = within("fail", client.fail(&request)).await.unwrap_err();
    let status = err.status().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().len() <= nrpc_wire::frame::MAX_MESSAGE_LEN);
    assert!(status.message().starts_with("éé"), "{status}");
}

#[tokio::test]
async fn a_stream_error_without_a_message_is_not_taken_for_a_keepalive() {
    let server = nats_server();
    let (svc, _events) = CustomSubject::new();
    let _h = serve(&server, SvcCustomSubjectServer::new(svc)).await;
    let client = SvcCustomSubjectClient::new(connection(&server).await, "default")
        .unwrap()
        .with_timeout(Duration::from_secs(120));
    let arg = StringArg {
        arg1: "reject:0".into(),
    };
    let mut stream = within("open", client.mt_streamed_reply(&arg))
        .await
        .unwrap();
    let first = within("first message", stream.next()).await;
    match first {
        Some(Err(CallError::Status(s))) => assert_eq!(s.code(), Code::InvalidArgument),
        other => panic!("expected the handler's error, got {other:?}"),
    }
}

#[tokio::test]
async fn subject_params_too_long_for_nats_are_refused_and_the_connection_survives() {
    let server = nats_server();
    let (svc, _events) = CustomSubject::new();
    let _h = serve(&server, SvcCustomSubjectServer::new(svc)).await;
    let conn = connection(&server).await;
    let long = "x".repeat(10_000);
    let err = SvcCustomSubjectClient::new(conn.clone(), &long).unwrap_err();
    assert_eq!(err.name, "instance");
    let client = SvcCustomSubjectClient::new(conn, "default").unwrap();
    let arg = StringArg { arg1: "a".into() };
    let reply = within(
        "a call on the same connection",
        client.mt_simple_reply(&arg),
    )
    .await;
    assert_eq!(reply.unwrap().reply, "A");
}

#[tokio::test]
async fn a_direct_call_to_a_huge_instance_id_is_refused_and_other_callers_go_on() {
    // Before: the 10 kB direct subject went out, the broker closed the
    // shared connection ("maximum control line exceeded") and another
    // caller's call timed out.
    let server = nats_server();
    let (_h, _events, _gate) = serve_greeter(&server, "direct").await;
    let conn = connection(&server).await;
    let other = GreeterClient::new(conn.clone()).with_timeout(Duration::from_secs(120));
    let long = "x".repeat(10_000);
    let direct = GreeterClient::new(conn.clone())
        .with_instance(&long)
        .expect("one token");
    let (a, b) = (hello("direct"), hello("other"));
    let (err, ok) = within("both calls", async {
        tokio::join!(direct.say_hello(&a), other.say_hello(&b))
    })
    .await;
    let err = err.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.to_string().contains("instance id"), "{err}");
    assert_eq!(ok.unwrap().message, "Hello, other");
    let again = within("a later call", other.say_hello(&hello("later"))).await;
    assert_eq!(again.unwrap().message, "Hello, later");
}

/// A raw client that opens a request stream on `chat.Chat.Collect` and
/// sends `n` items without waiting for credit; returns the first error
/// reply's code.
async fn flood_collect(server: &nats_harness::NatsServer, n: usize) -> Option<Code> {
    let raw = nats(server).await;
    let reply = raw.new_inbox();
    let mut replies = raw.subscribe(reply.clone()).await.unwrap();
    let mut h = HeaderMap::new();
    h.insert(headers::STREAM_CREDIT, "16");
    raw.publish_with_reply_and_headers("chat.Chat.Collect", reply, h, "".into())
        .await
        .unwrap();
    let accept = within("accept", replies.next()).await.unwrap();
    let inbox = accept
        .headers
        .as_ref()
        .unwrap()
        .get(headers::STREAM_INBOX)
        .unwrap();
    let inbox = inbox.as_str().to_owned();
    let word = prost::Message::encode_to_vec(&Word {
        text: "hold".into(),
    });
    for _ in 0..n {
        raw.publish(inbox.clone(), word.clone().into())
            .await
            .unwrap();
    }
    raw.flush().await.unwrap();
    within("the server's answer", async {
        while let Some(msg) = replies.next().await {
            if msg.payload.as_ref() == [0] && msg.headers.is_none() {
                continue; // a keepalive
            }
            let code = msg
                .headers
                .as_ref()
                .and_then(|h| h.get(headers::CODE))
                .and_then(|v| headers::parse_code(v.as_str()));
            let frame = ErrorFrame::decode(Encoding::Protobuf, &msg.payload).unwrap();
            assert!(frame.is_some(), "expected an error frame");
            return code;
        }
        None
    })
    .await
}

mod chat_service {
    use nrpc_runtime::{Request, Response, Sink, Status, Streaming};
    use nrpc_tests::chat::chat_server::Chat;
    use nrpc_tests::chat::{Sentence, Word};

    /// Reads one word, then waits forever: everything else the client
    /// sends must stay within its credit or be refused.
    pub struct Stuck;

    impl Chat for Stuck {
        async fn collect(
            &self,
            request: Request<Streaming<Word>>,
        ) -> Result<Response<Sentence>, Status> {
            let mut words = request.into_inner();
            let _ = futures::StreamExt::next(&mut words).await;
            std::future::pending().await
        }
        async fn echo(&self, _: Request<Streaming<Word>>, _: Sink<Word>) -> Result<(), Status> {
            Err(Status::unimplemented("not here"))
        }
        async fn spell(&self, _: Request<Word>, _: Sink<Word>) -> Result<(), Status> {
            Err(Status::unimplemented("not here"))
        }
    }
}

#[tokio::test]
async fn a_client_that_ignores_credit_ends_its_stream_with_resource_exhausted() {
    let server = nats_server();
    let _h = serve(
        &server,
        nrpc_tests::chat::chat_server::ChatServer::new(chat_service::Stuck),
    )
    .await;
    let window = nrpc_wire::stream::DEFAULT_WINDOW as usize;
    assert_eq!(
        flood_collect(&server, 3 * window).await,
        Some(Code::ResourceExhausted)
    );
    // Within credit, the same service is fine.
    let client = ChatClient::new(connection(&server).await);
    let words = futures::stream::iter([Word { text: "a".into() }]);
    // The stuck handler never answers but its keepalives keep the stream
    // alive: the call ends at its overall deadline, not with
    // RESOURCE_EXHAUSTED.
    let call = client.collect_with(
        words,
        CallOptions::new().stream_deadline(Duration::from_secs(2)),
    );
    let err = within("within credit", call).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}

#[tokio::test]
async fn a_server_naming_a_wildcard_stream_inbox_is_refused() {
    let server = nats_server();
    let raw = nats(&server).await;
    let mut requests = raw.subscribe("chat.Chat.>").await.unwrap();
    raw.flush().await.unwrap();
    let rogue = tokio::spawn(async move {
        let msg = requests.next().await.unwrap();
        let mut h = HeaderMap::new();
        h.insert(headers::STREAM_INBOX, "chat.>");
        // A huge grant must not panic the client either.
        h.insert(headers::CREDIT_LIMIT, "18446744073709551616");
        raw.publish_with_headers(msg.reply.unwrap(), h, vec![0].into())
            .await
            .unwrap();
        raw.flush().await.unwrap();
    });
    let client = ChatClient::new(connection(&server).await);
    let words = futures::stream::iter([Word { text: "a".into() }]);
    let err = within("collect", client.collect(words)).await.unwrap_err();
    assert!(matches!(&err, CallError::Decode(_)), "{err:?}");
    rogue.await.unwrap();
}

#[tokio::test]
async fn invalid_headers_are_errors_not_panics() {
    let server = nats_server();
    let (_h, mut events, _gate) = serve_greeter(&server, "headers").await;
    let client = patient_greeter(&server).await;
    for options in [
        CallOptions::new().header("bad name", "v"),
        CallOptions::new().header("Good", "a\r\nb"),
        CallOptions::new().header("Ünïcode", "v"),
    ] {
        let err = within("call", client.say_hello_with(&hello("never"), options))
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::InvalidHeader(_)), "{err:?}");
    }
    // Nothing was sent: the handler never started.
    let ok = within("a good call", client.say_hello(&hello("after"))).await;
    assert_eq!(ok.unwrap().message, "Hello, after");
    assert_eq!(
        events.try_recv(),
        Ok(nrpc_tests::Event::Started("after".into()))
    );
    // A handler's invalid header is its INTERNAL error, not a panic.
    let err = within("bad reply header", client.say_hello(&hello("badheader")))
        .await
        .unwrap_err();
    let status = err.status().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(status.code(), Code::Internal);
    assert!(status.message().contains("Bad"), "{status}");
}

#[tokio::test]
async fn a_rogue_responder_gets_typed_outcomes_never_a_hang_or_a_panic() {
    let server = nats_server();
    let raw = nats(&server).await;
    // Answers every request twice, first with bytes that are no message,
    // then with an error frame claiming to be one, then not at all.
    let mut requests = raw.subscribe("demo.Greeter.>").await.unwrap();
    raw.flush().await.unwrap();
    let rogue = tokio::spawn(async move {
        let mut n = 0;
        while let Some(msg) = requests.next().await {
            let Some(reply) = msg.reply else { continue };
            n += 1;
            let garbage: &[u8] = match n {
                1 => b"\xff\xff\xff",
                2 => b"\x00\xff\xff",
                _ => continue,
            };
            raw.publish(reply.clone(), Bytes::from_static(garbage))
                .await
                .unwrap();
            raw.publish(reply, Bytes::from_static(b"\x0a\x01y"))
                .await
                .unwrap();
            raw.flush().await.unwrap();
        }
    });
    let client =
        GreeterClient::new(connection(&server).await).with_timeout(Duration::from_millis(500));
    for expect in ["undecodable", "undecodable", "timeout"] {
        let err = within("call", client.say_hello(&hello("x")))
            .await
            .unwrap_err();
        match expect {
            "timeout" => assert!(err.is_timeout(), "{err:?}"),
            _ => assert!(matches!(err, CallError::Decode(_)), "{err:?}"),
        }
    }
    // The duplicate replies found no call waiting and were dropped.
    assert_eq!(client.service_client().connection().pending_calls(), 0);
    rogue.abort();
}

#[tokio::test]
async fn a_method_index_the_service_does_not_have_is_an_error_not_a_panic() {
    use nrpc_runtime::codec::Raw;
    let server = nats_server();
    let client = nrpc_runtime::ServiceClient::new(
        connection(&server).await,
        &nrpc_tests::greeter::GREETER_SPEC,
        &[],
    )
    .unwrap();
    let err = client
        .unary::<Raw, Raw>(99, &[], &Bytes::new(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::UnknownMethod { index: 99 }),
        "{err:?}"
    );
    assert_eq!(err.code(), Code::Unimplemented);
    assert!(client.subject(3, &[], Encoding::Protobuf).is_err());
    assert!(client.subject(0, &[], Encoding::Protobuf).is_ok());
}
