//! The gateway in front of users: what it exposes, who may call, how
//! often, and what browsers on other sites can make it do — with a real
//! gateway, NATS, services, grpcurl, tonic and an HTTP client.

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use nrpc_gateway::Exposure;
use nrpc_tests::chat::chat_server::ChatServer;
use nrpc_tests::grpcurl::{grpcurl, grpcurl_ok};
use nrpc_tests::{gateway_with, hello, nats_server, serve, serve_greeter, Words};
use tonic::transport::Channel;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// POSTs JSON `body` to `url`: the status and the answer's text.
async fn post(url: String, body: &str) -> (u16, String) {
    let response = http()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn get_json(url: String) -> (u16, serde_json::Value) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text:?}: {e}")),
    )
}

#[tokio::test]
async fn what_is_not_exposed_is_not_there_on_any_face() {
    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let _chat = serve(&server, ChatServer::new(Words)).await;
    let exposure = Exposure::only(["greeter.v1.Greeter/*"])
        .and_then(|e| e.deny(["*/Fail"]))
        .unwrap();
    let gateway = gateway_with(&server, |b| b.expose(exposure)).await;
    let url = &gateway.url;

    // HTTP/JSON: the exposed method answers, the others are 404 — the
    // denied method of an exposed service as the unexposed service.
    let (status, body) = post(
        format!("{url}/greeter.v1.Greeter/SayHello"),
        r#"{"name":"x"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for path in ["greeter.v1.Greeter/Fail", "chat.v1.Chat/Spell"] {
        let (status, body) = post(format!("{url}/{path}"), "{}").await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(
            !body.contains("chat.v1.Chat") || path.starts_with("chat"),
            "{body}"
        );
    }
    // An unknown name's error does not list the services there are.
    let (status, body) = post(format!("{url}/nope.v1.Nope/X"), "{}").await;
    assert_eq!(status, 404);
    assert!(!body.contains("chat"), "{body}");

    // gRPC: UNIMPLEMENTED, as for a method that does not exist.
    use nrpc_tests::greeter::grpc::greeter_client::GreeterClient;
    let channel = Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = GreeterClient::new(channel);
    assert_eq!(
        grpc.say_hello(hello("grpc"))
            .await
            .unwrap()
            .get_ref()
            .message,
        "Hello, grpc"
    );
    let err = grpc
        .fail(nrpc_tests::greeter::FailRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented, "{err:?}");

    // Reflection: listed and described without what is hidden.
    let at = url.trim_start_matches("http://");
    let out = grpcurl_ok(&["-plaintext", at, "list"]).await;
    assert!(out.contains("greeter.v1.Greeter"), "{out}");
    assert!(!out.contains("chat.v1.Chat"), "{out}");
    let out = grpcurl_ok(&["-plaintext", at, "describe", "greeter.v1.Greeter"]).await;
    assert!(out.contains("rpc SayHello"), "{out}");
    assert!(!out.contains("rpc Fail"), "{out}");
    for hidden in ["chat.v1.Chat", "greeter.v1.Greeter.Fail"] {
        let (ok, out, err) = grpcurl(&["-plaintext", at, "describe", hidden]).await;
        assert!(!ok, "{hidden} described: {out}");
        assert!(
            err.contains("not found") || err.contains("NotFound"),
            "{err}"
        );
    }

    // The console's resources.
    let (status, listed) = get_json(format!("{url}/_nrpc/services")).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = listed["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["greeter.v1.Greeter"]);
    let (status, service) = get_json(format!("{url}/_nrpc/services/greeter.v1.Greeter")).await;
    assert_eq!(status, 200);
    let methods: Vec<&str> = service["methods"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert!(
        methods.contains(&"SayHello") && !methods.contains(&"Fail"),
        "{methods:?}"
    );
    let (status, _) = get_json(format!("{url}/_nrpc/services/chat.v1.Chat")).await;
    assert_eq!(status, 404);
}
