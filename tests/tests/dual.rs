//! One implementation served over gRPC (tonic, through the glue that
//! `nrpc_codegen::configure().grpc(true)` generates) and NATS at the same
//! time, called with tonic's generated clients and nrpc clients: statuses,
//! deadlines, metadata and every call kind map both ways.

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use nrpc_tests::alloptions::grpc::svc_custom_subject_client::SvcCustomSubjectClient as TonicCustom;
use nrpc_tests::alloptions::grpc::svc_subject_params_client::SvcSubjectParamsClient as TonicParams;
use nrpc_tests::alloptions::grpc::{SvcCustomSubjectGrpc, SvcSubjectParamsGrpc};
use nrpc_tests::alloptions::StringArg;
use nrpc_tests::chat::grpc::chat_client::ChatClient as TonicChat;
use nrpc_tests::chat::grpc::ChatGrpc;
use nrpc_tests::greeter::greeter_client::GreeterClient;
use nrpc_tests::greeter::greeter_server::GreeterServer;
use nrpc_tests::greeter::grpc::greeter_client::GreeterClient as TonicGreeter;
use nrpc_tests::greeter::grpc::GreeterGrpc;
use nrpc_tests::greeter::{FailRequest, HelloRequest};
use nrpc_tests::{
    cancelled, connection, drain, nats_server, within, word, CustomSubject, ParamsEcho,
    TestGreeter, Words,
};
use tonic::transport::{Channel, Server};

/// Serves `service` over gRPC on a free loopback port; stopped when the
/// returned task is aborted (or the test ends).
async fn grpc_server<S>(service: S) -> (Channel, tokio::task::JoinHandle<()>)
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = Server::builder()
            .add_service(service)
            .serve_with_incoming(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            )
            .await;
    });
    let channel = Channel::from_shared(url).unwrap().connect().await.unwrap();
    (channel, task)
}

fn hello(name: &str) -> HelloRequest {
    HelloRequest { name: name.into() }
}

#[tokio::test]
async fn one_implementation_answers_over_grpc_and_nats() {
    let server = nats_server();
    let (greeter, _events) = TestGreeter::new("both");
    let greeter = Arc::new(greeter);
    let _nats = nrpc_runtime::Server::builder(&connection(&server).await)
        .add_service(GreeterServer::from_arc(greeter.clone()))
        .serve()
        .await
        .unwrap();
    let (channel, _grpc) = grpc_server(GreeterGrpc::from_arc(greeter)).await;

    // gRPC: metadata in (as `Tenant`, canonical case) and out, the deadline.
    let mut tonic = TonicGreeter::new(channel);
    let mut request = tonic::Request::new(hello("grpc"));
    request
        .metadata_mut()
        .insert("tenant", "acme".parse().unwrap());
    request.set_timeout(Duration::from_secs(3));
    let reply = tonic.say_hello(request).await.unwrap();
    assert_eq!(reply.get_ref().message, "Hello, grpc");
    assert_eq!(reply.metadata().get("instance").unwrap(), "both");
    assert_eq!(reply.metadata().get("tenant-echo").unwrap(), "acme");
    let left: u64 = reply
        .metadata()
        .get("deadline-left-ms")
        .expect("the handler saw the gRPC deadline")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(left > 0 && left <= 3000, "{left} ms left");
    // No deadline from the caller, none for the handler.
    let reply = tonic.say_hello(hello("plain")).await.unwrap();
    assert!(reply.metadata().get("deadline-left-ms").is_none());

    // NATS: the same instance.
    let client = GreeterClient::new(connection(&server).await);
    let reply = client
        .say_hello_with(
            &hello("nats"),
            nrpc_runtime::CallOptions::new().header("Tenant", "acme"),
        )
        .await
        .unwrap();
    assert_eq!(reply.get_ref().message, "Hello, nats");
    assert_eq!(reply.metadata().get("Instance").unwrap().as_str(), "both");
    assert_eq!(
        reply.metadata().get("Tenant-Echo").unwrap().as_str(),
        "acme"
    );
}

#[tokio::test]
async fn statuses_and_panics_keep_their_codes_over_grpc() {
    let (greeter, _events) = TestGreeter::new("a");
    let (channel, _grpc) = grpc_server(GreeterGrpc::server(greeter)).await;
    let mut tonic = TonicGreeter::new(channel);
    for code in 1..=16 {
        let status = tonic
            .fail(FailRequest {
                code,
                message: format!("failed with {code}"),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code() as i32, code);
        assert_eq!(status.message(), format!("failed with {code}"));
    }
    let status = tonic.say_hello(hello("panic")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal);
    assert_eq!(status.message(), "handler panicked");
    // A reply header gRPC cannot carry fails the call, as over NATS.
    let status = tonic.say_hello(hello("badheader")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal, "{status:?}");
    // The service still answers.
    let reply = tonic.say_hello(hello("after")).await.unwrap();
    assert_eq!(reply.get_ref().message, "Hello, after");
}

#[tokio::test]
async fn a_grpc_deadline_ends_and_cancels_the_handler() {
    let (greeter, mut events) = TestGreeter::new("a");
    let (channel, _grpc) = grpc_server(GreeterGrpc::server(greeter)).await;
    let mut tonic = TonicGreeter::new(channel);
    let mut request = tonic::Request::new(hello("forever-dual"));
    request.set_timeout(Duration::from_millis(200));
    let status = within("a call past its deadline", tonic.say_hello(request))
        .await
        .unwrap_err();
    // tonic's client and server both watch the deadline; either may end it.
    assert!(
        matches!(
            status.code(),
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled
        ),
        "{status:?}"
    );
    cancelled(&mut events, "forever-dual").await;
}

#[tokio::test]
async fn streams_of_every_direction_over_grpc() {
    let (channel, _grpc) = grpc_server(ChatGrpc::server(Words)).await;
    let mut tonic = TonicChat::new(channel);

    let letters = drain(tonic.spell(word("dual")).await.unwrap().into_inner());
    let letters: Vec<String> = letters.await.unwrap().into_iter().map(|w| w.text).collect();
    assert_eq!(letters, ["d", "u", "a", "l"]);

    let sentence = tonic
        .collect(futures::stream::iter([word("one"), word("two")]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((sentence.words, sentence.text.as_str()), (2, "one two"));

    let echoes = tonic
        .echo(futures::stream::iter([word("a"), word("b")]))
        .await
        .unwrap()
        .into_inner();
    let echoes: Vec<String> = drain(echoes)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.text)
        .collect();
    assert_eq!(echoes, ["echo a", "echo b"]);

    // A handler's error ends the stream with its status.
    let mut echoes = tonic
        .echo(futures::stream::iter([word("a"), word("fail")]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(echoes.message().await.unwrap().unwrap().text, "echo a");
    let status = echoes.message().await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(status.message(), "asked to fail");
}

#[tokio::test]
async fn subject_parameters_void_and_nrpc_only_shapes_over_grpc() {
    let (channel, _grpc) = grpc_server(SvcSubjectParamsGrpc::server(ParamsEcho)).await;
    let mut tonic = TonicParams::new(channel);
    let mut request = tonic::Request::new(nrpc_runtime::proto::Void::default());
    for (name, value) in [
        ("instance", "eu1"),
        ("clientid", "c42"),
        ("mp1", "a"),
        ("mp2", "b"),
    ] {
        request.metadata_mut().insert(
            tonic::metadata::MetadataKey::from_bytes(format!("nrpc-param-{name}").as_bytes())
                .unwrap(),
            value.parse().unwrap(),
        );
    }
    let reply = tonic.mt_with_subject_params(request).await.unwrap();
    assert_eq!(reply.get_ref().reply, "eu1 c42 a b");
    let status = tonic
        .mt_with_subject_params(nrpc_runtime::proto::Void::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("nrpc-param-instance"),
        "{status:?}"
    );

    // Fire-and-forget answers an empty NoReply over gRPC.
    let mut request = tonic::Request::new(nrpc_runtime::proto::Void::default());
    for (name, value) in [("instance", "eu1"), ("clientid", "c42")] {
        request.metadata_mut().insert(
            tonic::metadata::MetadataKey::from_bytes(format!("nrpc-param-{name}").as_bytes())
                .unwrap(),
            value.parse().unwrap(),
        );
    }
    tonic.mt_no_reply(request).await.unwrap();

    // nRPC's streamedReply option and events have no gRPC face.
    let (service, _events) = CustomSubject::new();
    let (channel, _grpc) = grpc_server(SvcCustomSubjectGrpc::server(service)).await;
    let mut custom = TonicCustom::new(channel);
    let arg = StringArg {
        arg1: "count:3".into(),
    };
    let status = custom
        .mt_streamed_reply(tonic::Request::new(arg.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(status.message().contains("call it over NATS"), "{status:?}");
    let mut request = tonic::Request::new(arg);
    request
        .metadata_mut()
        .insert("nrpc-param-instance", "eu1".parse().unwrap());
    let reply = custom.mt_simple_reply(request).await.unwrap();
    assert_eq!(reply.get_ref().reply, "COUNT:3");
}
