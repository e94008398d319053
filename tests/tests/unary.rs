//! Unary calls through generated clients and servers on a real nats-server.

use std::collections::HashMap;
use std::time::Duration;

use nrpc_runtime::{CallOptions, Encoding, Server};
use nrpc_tests::alloptions::svc_custom_subject_server::SvcCustomSubjectServer;
use nrpc_tests::alloptions::svc_subject_params_client::SvcSubjectParamsClient;
use nrpc_tests::alloptions::svc_subject_params_server::SvcSubjectParamsServer;
use nrpc_tests::alloptions::StringArg;
use nrpc_tests::greeter::greeter_client::GreeterClient;
use nrpc_tests::greeter::greeter_server::GreeterServer;
use nrpc_tests::{connection, hello, nats, nats_server, serve, serve_greeter, within, TestGreeter};
use nrpc_tests::{CustomSubject, ParamsEcho};

#[tokio::test]
async fn unary_call_returns_the_handlers_reply() {
    let server = nats_server();
    let (handle, _events, _gate) = serve_greeter(&server, "a").await;
    let client = GreeterClient::new(connection(&server).await);
    let reply = within("call", client.say_hello(&hello("world")))
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello, world");
    handle.shutdown().await;
}

#[tokio::test]
async fn metadata_travels_both_ways() {
    let server = nats_server();
    let (_handle, _events, _gate) = serve_greeter(&server, "instance-7").await;
    let client = GreeterClient::new(connection(&server).await);
    let reply = within(
        "call",
        client.say_hello_with(&hello("meta"), CallOptions::new().header("Tenant", "acme")),
    )
    .await
    .unwrap();
    assert_eq!(reply.get_ref().message, "Hello, meta");
    assert_eq!(
        reply.metadata().get("Tenant-Echo").map(|v| v.as_str()),
        Some("acme")
    );
    assert_eq!(
        reply.metadata().get("Instance").map(|v| v.as_str()),
        Some("instance-7")
    );
}

#[tokio::test]
async fn a_generated_client_sends_its_default_headers_with_every_call() {
    let server = nats_server();
    let (_handle, _events, _gate) = serve_greeter(&server, "instance-8").await;
    let mut defaults = nrpc_runtime::HeaderMap::new();
    defaults.insert("Tenant", "globex");
    let client = GreeterClient::new(connection(&server).await).with_headers(defaults);
    for _ in 0..2 {
        let reply = within(
            "call",
            client.say_hello_with(&hello("meta"), CallOptions::new()),
        )
        .await
        .unwrap();
        assert_eq!(
            reply.metadata().get("Tenant-Echo").map(|v| v.as_str()),
            Some("globex")
        );
    }
}

#[tokio::test]
async fn the_handler_sees_the_callers_deadline() {
    let server = nats_server();
    let (_handle, _events, _gate) = serve_greeter(&server, "a").await;
    let client = GreeterClient::new(connection(&server).await);
    let reply = within(
        "call",
        client.say_hello_with(
            &hello("d"),
            CallOptions::new().timeout(Duration::from_secs(9)),
        ),
    )
    .await
    .unwrap();
    let left: u64 = reply
        .metadata()
        .get("Deadline-Left-Ms")
        .expect("the handler had a deadline")
        .as_str()
        .parse()
        .unwrap();
    assert!(left > 0 && left <= 9000, "{left} ms left of 9000");

    // A Go-style request without the header has no deadline.
    let raw = nats(&server).await;
    let msg = within(
        "raw",
        raw.request("demo.Greeter.SayHello", b"\x0a\x01x".as_ref().into()),
    )
    .await
    .unwrap();
    let headers = msg.headers.expect("Instance header");
    assert!(headers.get("Deadline-Left-Ms").is_none());
}

#[tokio::test]
async fn protobuf_suffix_is_accepted_like_no_suffix() {
    let server = nats_server();
    let (_handle, _events, _gate) = serve_greeter(&server, "a").await;
    let raw = nats(&server).await;
    let msg = within(
        "raw",
        raw.request(
            "demo.Greeter.SayHello.protobuf",
            b"\x0a\x01p".as_ref().into(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(&msg.payload[..], b"\x0a\x08Hello, p");
}

#[tokio::test]
async fn without_a_queue_group_every_instance_receives_every_request() {
    let server = nats_server();
    let mut receivers = Vec::new();
    let mut handles = Vec::new();
    for id in ["i1", "i2"] {
        let (greeter, events) = TestGreeter::new(id);
        receivers.push(events);
        handles.push(
            Server::builder(&connection(&server).await)
                .no_queue_group()
                .add_service(GreeterServer::new(greeter))
                .serve()
                .await
                .unwrap(),
        );
    }
    let client = GreeterClient::new(connection(&server).await);
    within("call", client.say_hello(&hello("all")))
        .await
        .unwrap();
    for events in &mut receivers {
        let event = within("each instance", events.recv()).await;
        assert_eq!(event, Some(nrpc_tests::Event::Started("all".into())));
    }
}

#[tokio::test]
async fn json_encoding_round_trips() {
    let server = nats_server();
    let (_handle, _events, _gate) = serve_greeter(&server, "a").await;
    let client = GreeterClient::new(connection(&server).await).with_encoding(Encoding::Json);
    let reply = within("json call", client.say_hello(&hello("json")))
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello, json");

    // What travels is protobuf-JSON, as a Go or Python nRPC peer sends it.
    let raw = nats(&server).await;
    let msg = within(
        "raw json request",
        raw.request(
            "demo.Greeter.SayHello.json",
            br#"{"name":"raw"}"#.as_ref().into(),
        ),
    )
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(v, serde_json::json!({"message": "Hello, raw"}));
}

#[tokio::test]
async fn subject_params_at_all_three_levels_reach_the_handler() {
    let server = nats_server();
    let _handle = serve(&server, SvcSubjectParamsServer::new(ParamsEcho)).await;
    let client = SvcSubjectParamsClient::new(connection(&server).await, "eu1", "client42").unwrap();
    let reply = within(
        "params call",
        client.mt_with_subject_params("alpha", "beta"),
    )
    .await
    .unwrap();
    assert_eq!(reply.reply, "eu1 client42 alpha beta");
    // Different values reach the same server (it subscribes with wildcards).
    let other = SvcSubjectParamsClient::new(connection(&server).await, "us2", "c7").unwrap();
    let reply = within("params call", other.mt_with_subject_params("x", "y"))
        .await
        .unwrap();
    assert_eq!(reply.reply, "us2 c7 x y");
}

#[tokio::test]
async fn void_replies_map_to_unit() {
    use nrpc_tests::alloptions::svc_custom_subject_client::SvcCustomSubjectClient;
    let server = nats_server();
    let _handle = serve(&server, SvcCustomSubjectServer::new(CustomSubject::new().0)).await;
    let client = SvcCustomSubjectClient::new(connection(&server).await, "default").unwrap();
    let arg = StringArg { arg1: "x".into() };
    let () = within("void call", client.mt_void_reply(&arg))
        .await
        .unwrap();
    let err = within("void call", client.mt_void_reply(&StringArg::default()))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.message()), Some("arg1 is empty"));
    let reply = within("call", client.mt_simple_reply(&arg)).await.unwrap();
    assert_eq!(reply.reply, "X");
}

#[tokio::test]
async fn queue_group_spreads_load_over_three_instances() {
    let server = nats_server();
    let mut handles = Vec::new();
    for id in ["i1", "i2", "i3"] {
        let (greeter, _events) = TestGreeter::new(id);
        handles.push(
            Server::builder(&connection(&server).await)
                .add_service(GreeterServer::new(greeter))
                .serve()
                .await
                .unwrap(),
        );
    }
    let client = GreeterClient::new(connection(&server).await);
    let mut per_instance: HashMap<String, usize> = HashMap::new();
    let calls = (0..300).map(|i| {
        let client = client.clone();
        async move {
            client
                .say_hello_with(&hello(&format!("n{i}")), CallOptions::new())
                .await
                .map(|r| r.metadata().get("Instance").map(|v| v.as_str().to_owned()))
        }
    });
    for result in within("300 calls", futures::future::join_all(calls)).await {
        let instance = result.unwrap().expect("Instance header");
        *per_instance.entry(instance).or_default() += 1;
    }
    assert_eq!(per_instance.values().sum::<usize>(), 300);
    assert_eq!(
        per_instance.len(),
        3,
        "every instance serves some calls: {per_instance:?}"
    );
    for h in handles {
        h.shutdown().await;
    }
}

#[tokio::test]
async fn a_thousand_concurrent_calls_on_one_client_are_all_answered() {
    let server = nats_server();
    let (greeter, _events) = TestGreeter::new("a");
    let _handle = Server::builder(&connection(&server).await)
        .max_concurrent_requests(2000)
        .add_service(GreeterServer::new(greeter))
        .serve()
        .await
        .unwrap();
    let conn = connection(&server).await;
    let client = GreeterClient::new(conn.clone()).with_timeout(Duration::from_secs(30));
    let calls = (0..1000).map(|i| {
        let client = &client;
        async move { (i, client.say_hello(&hello(&format!("caller-{i}"))).await) }
    });
    let results = within("1000 calls", futures::future::join_all(calls)).await;
    for (i, r) in results {
        assert_eq!(r.unwrap().message, format!("Hello, caller-{i}"));
    }
    assert_eq!(
        conn.pending_calls(),
        0,
        "no routing entry outlives its call"
    );
}
