//! The gateway in front of users: what it exposes, who may call, how
//! often, and what browsers on other sites can make it do — with a real
//! gateway, NATS, services, grpcurl, tonic and an HTTP client.

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use nrpc_gateway::Exposure;
use nrpc_tests::chat::chat_server::ChatServer;
use nrpc_tests::grpcurl::{grpcurl, grpcurl_ok};
use nrpc_tests::{gateway_with, hello, nats_server, serve, serve_greeter, within, Words};
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

/// The names of the calls the greeter has started so far, up to and
/// including one named `last` (which the test makes last).
async fn calls_until(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<nrpc_tests::Event>,
    last: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    within("the last call", async {
        while let Some(event) = events.recv().await {
            if let nrpc_tests::Event::Started(name) = event {
                let done = name == last;
                seen.push(name);
                if done {
                    return;
                }
            }
        }
    })
    .await;
    seen
}

#[tokio::test]
async fn what_a_page_of_another_site_makes_a_browser_send_is_refused() {
    let server = nats_server();
    let (_h, mut events, _gate) = serve_greeter(&server, "a").await;
    let app = "https://app.example";
    let gateway = gateway_with(&server, |b| b.allow_origins([app.parse().unwrap()])).await;
    let say_hello = format!("{}/greeter.v1.Greeter/SayHello", gateway.url);
    let fail = format!("{}/greeter.v1.Greeter/Fail", gateway.url);
    let status = |r: reqwest::Response| r.status().as_u16();

    // A form or `text/plain` fetch (no preflight) from any page: 415.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let r = http()
            .post(&say_hello)
            .header("content-type", content_type)
            .body(r#"{"name":"simple"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(status(r), 415, "{content_type}");
    }
    // JSON from a page of another origin: 403 (the browser would not
    // have sent it after its preflight; a script outside one can).
    let r = http()
        .post(&say_hello)
        .header("content-type", "application/json")
        .header("origin", "https://evil.example")
        .body(r#"{"name":"evil"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 403);
    // An <img>'s GET: marked cross-site by the browser, no Origin.
    let r = http()
        .get(&fail)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 403);
    // GET calls only what has no side effects (SayHello is declared so).
    let r = http().get(&fail).send().await.unwrap();
    assert_eq!(r.headers()["allow"], "POST");
    assert_eq!(status(r), 405);
    let r = http().get(&say_hello).send().await.unwrap();
    assert_eq!(status(r), 200);
    // A Host that is not the gateway's (DNS rebinding): 421, whatever the path.
    for path in ["/greeter.v1.Greeter/SayHello", "/", "/_nrpc/services"] {
        let r = http()
            .get(format!("{}{path}", gateway.url))
            .header("host", "attacker.example")
            .send()
            .await
            .unwrap();
        assert_eq!(status(r), 421, "{path}");
    }
    // The allowed origin, and plain JSON, are served.
    let r = http()
        .post(&say_hello)
        .header("content-type", "application/json")
        .header("origin", app)
        .body(r#"{"name":"app"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 200);
    let (code, _) = post(say_hello.clone(), r#"{"name":"last"}"#).await;
    assert_eq!(code, 200);

    // None of the refused calls reached the service.
    assert_eq!(calls_until(&mut events, "last").await, ["", "app", "last"]);
}

#[tokio::test]
async fn the_console_page_allows_its_own_script_only_and_no_framing() {
    let server = nats_server();
    let gateway = gateway_with(&server, |b| b).await;
    let page = http().get(&gateway.url).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("<style>"),
        "inline script or style"
    );
    let script = http()
        .get(format!("{}/_nrpc/console.js", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
}
