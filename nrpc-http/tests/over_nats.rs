//! HTTP over NATS between our own client and server, through a real
//! nats-server: an axum app served as `echo.nats`, called with the client
//! and its tower::Service face.

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{any, get};
use bytes::Bytes;
use nats_harness::NatsServer;
use nrpc_http::{HttpClient, HttpServer};
use nrpc_runtime::{ConnectOptions, Connection};
use tokio::sync::Semaphore;

const PATIENCE: Duration = Duration::from_secs(20);

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {PATIENCE:?}"))
}

async fn connection(server: &NatsServer) -> Connection {
    ConnectOptions::new()
        .ignore_environment()
        .servers(server.url())
        .connect()
        .await
        .unwrap()
}

/// `/echo` answers the request's body, its method and target in headers,
/// and how many `X-A` headers came; `/status/{code}` answers that status;
/// What `/wait` says and waits for: a permit on `entered` when it begins,
/// one on `left` when its handler ends or is dropped (cancelled); it waits
/// for a permit on `gate`.
#[derive(Clone)]
struct Probe {
    gate: Arc<Semaphore>,
    entered: Arc<Semaphore>,
    left: Arc<Semaphore>,
}

impl Default for Probe {
    fn default() -> Self {
        let none = || Arc::new(Semaphore::new(0));
        Probe {
            gate: none(),
            entered: none(),
            left: none(),
        }
    }
}

/// Adds a permit to its semaphore when dropped.
struct OnDrop(Arc<Semaphore>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.add_permits(1);
    }
}

/// [`app`] served as `echo.nats` on `conn`.
async fn serve_echo(conn: &Connection) -> nrpc_http::HttpServerHandle {
    HttpServer::builder(conn, "echo.nats")
        .unwrap()
        .serve(app(Probe::default()))
        .await
        .unwrap()
}

/// `/wait` waits for the probe's gate (see [`Probe`]); `/remote` answers
/// what the handler knows of the caller ([`nrpc_http::Remote`]) and
/// whether nrpc-http's own request headers reached it.
fn app(probe: Probe) -> axum::Router {
    axum::Router::new()
        .route(
            "/remote",
            get(
                |axum::Extension(remote): axum::Extension<nrpc_http::Remote>,
                 headers: http::HeaderMap| async move {
                    let nrt_host = remote
                        .headers
                        .as_ref()
                        .and_then(|h| h.get("NRT-HostName"))
                        .map_or("-", |v| v.as_str())
                        .to_owned();
                    let hints = headers.contains_key(nrpc_http::wire::TIMEOUT_HEADER)
                        || headers.contains_key(nrpc_http::wire::STREAM_HEADER);
                    [
                        ("x-subject", remote.subject.to_string()),
                        ("x-reply", remote.reply.to_string()),
                        ("x-nrt-host", nrt_host),
                        ("x-hints-seen", hints.to_string()),
                    ]
                },
            ),
        )
        .route(
            "/echo",
            any(|request: axum::extract::Request| async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                let a = parts.headers.get_all("x-a").iter().count();
                (
                    [
                        ("x-method", parts.method.to_string()),
                        ("x-uri", parts.uri.to_string()),
                        ("x-a-count", a.to_string()),
                    ],
                    body,
                )
            }),
        )
        .route(
            "/status/{code}",
            get(
                |axum::extract::Path(code): axum::extract::Path<u16>| async move {
                    let status = axum::http::StatusCode::from_u16(code).unwrap();
                    (status, [("location", "/elsewhere")])
                },
            ),
        )
        .route(
            "/wait",
            get(move || async move {
                let _left = OnDrop(probe.left.clone());
                probe.entered.add_permits(1);
                probe.gate.acquire().await.unwrap().forget();
                "waited"
            }),
        )
}

#[tokio::test]
async fn requests_and_replies_keep_what_http_says() {
    let server = NatsServer::start().unwrap();
    let conn = connection(&server).await;
    let handle = serve_echo(&conn).await;
    let client = HttpClient::new(&connection(&server).await);

    // Every method, a query with a repeated key, repeated headers, a
    // binary body.
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        let body: &[u8] = if method == "GET" {
            b""
        } else {
            &[0, 1, 2, 255]
        };
        let request = http::Request::builder()
            .method(method)
            .uri("http://echo.nats/echo?q=1&q=2")
            .header("X-A", "1")
            .header("X-A", "2")
            .body(http_body_util::Full::new(Bytes::copy_from_slice(body)))
            .unwrap();
        let reply = within("a reply", client.send(request)).await.unwrap();
        assert_eq!(reply.status(), 200, "{method}");
        assert_eq!(reply.headers()["x-method"], method);
        assert_eq!(reply.headers()["x-uri"], "/echo?q=1&q=2");
        assert_eq!(reply.headers()["x-a-count"], "2");
        assert_eq!(reply.body().as_ref(), body, "{method}");
    }
    // Statuses with and without bodies; a redirect is the caller's to follow.
    for code in [201u16, 204, 302, 404, 503] {
        let reply = client
            .get(&format!("http://echo.nats/status/{code}"))
            .await
            .unwrap();
        assert_eq!(reply.status(), code);
    }
    let redirect = client.get("http://echo.nats/status/302").await.unwrap();
    assert_eq!(redirect.headers()["location"], "/elsewhere");
    // HEAD: the status and headers, no body.
    let head = http::Request::head("http://echo.nats/echo")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let reply = client.send(head).await.unwrap();
    assert_eq!((reply.status().as_u16(), reply.body().len()), (200, 0));
    // Through the tower::Service face, as a tower stack would.
    use tower::ServiceExt;
    let request = http::Request::post("http://ECHO.nats:80/echo")
        .body(http_body_util::Full::new(Bytes::from_static(b"tower")))
        .unwrap();
    let reply = client.clone().oneshot(request).await.unwrap();
    assert_eq!(reply.into_body().bytes().await.unwrap().as_ref(), b"tower");
    // The handler knows where the request came from, and never sees the
    // client's own headers (its deadline, that it takes streams).
    let reply = client.get("http://echo.nats/remote").await.unwrap();
    assert_eq!(reply.headers()["x-subject"], "nrt.requests.echo.nats.get");
    let inbox = reply.headers()["x-reply"].to_str().unwrap().to_owned();
    assert!(inbox.starts_with("_INBOX."), "{inbox}");
    assert_eq!(reply.headers()["x-nrt-host"], "-");
    assert_eq!(reply.headers()["x-hints-seen"], "false");
    // Requests of one connection come from one inbox prefix.
    let again = client.get("http://echo.nats/remote").await.unwrap();
    let prefix = |s: &str| s.rsplit_once('.').map(|(p, _)| p.to_owned());
    assert_eq!(
        prefix(again.headers()["x-reply"].to_str().unwrap()),
        prefix(&inbox)
    );
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn what_nats_knows_is_an_http_answer_at_once() {
    let server = NatsServer::start().unwrap();
    let client = HttpClient::new(&connection(&server).await).with_timeout(Duration::from_secs(1));
    // Nobody serves the host: 503 (at once: the broker says so).
    let reply = within("no responders", client.get("http://nobody.nats/"))
        .await
        .unwrap();
    assert_eq!(reply.status(), 503);
    assert!(String::from_utf8_lossy(reply.body()).contains("nothing serves nobody.nats"));
    // Too large for the broker: 413 naming the sizes, nothing sent.
    let reply = client
        .post("http://nobody.nats/", vec![b'x'; 2 << 20])
        .await
        .unwrap();
    assert_eq!(reply.status(), 413);
    assert!(String::from_utf8_lossy(reply.body()).contains("max_payload"));
    // Not a .nats host: refused before anything is sent.
    assert!(client.get("http://example.com/").await.is_err());
}

#[tokio::test]
async fn past_its_limit_the_server_answers_503_and_times_out_as_504() {
    let server = NatsServer::start().unwrap();
    let conn = connection(&server).await;
    let probe = Probe::default();
    let handle = HttpServer::builder(&conn, "echo.nats")
        .unwrap()
        .max_concurrent_requests(1)
        .serve(app(probe.clone()))
        .await
        .unwrap();
    let client = HttpClient::new(&connection(&server).await);
    // One request holds the only slot; the next is refused at once.
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.get("http://echo.nats/wait").await }
    });
    within("the first request", probe.entered.acquire())
        .await
        .unwrap()
        .forget();
    let refused = within("a refusal", client.get("http://echo.nats/echo"))
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(String::from_utf8_lossy(refused.body()).contains("limit"));
    // A caller that stops waiting gets 504.
    let slow = HttpServer::builder(&conn, "slow.nats")
        .unwrap()
        .serve(app(probe.clone()))
        .await
        .unwrap();
    let impatient = client.clone().with_timeout(Duration::from_millis(200));
    let reply = impatient.get("http://slow.nats/wait").await.unwrap();
    assert_eq!(reply.status(), 504, "{reply:?}");
    // The caller's deadline reached the server: its handler was dropped.
    within("the handler cancelled", probe.left.acquire())
        .await
        .unwrap()
        .forget();
    probe.gate.add_permits(1);
    slow.shutdown(Duration::from_secs(5)).await;
    let waited = within("the waiting request", waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(waited.body().as_ref(), b"waited");
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn go_nrt_peers_in_their_own_bytes() {
    use futures::StreamExt;
    let server = NatsServer::start().unwrap();
    let conn = connection(&server).await;
    let nats = conn.nats().clone();

    // A Go nrt server (raw: what nrt's server writes when a handler sets a
    // status before writing): our client reads it.
    let mut go_server = nats
        .queue_subscribe("nrt.requests.go.nats.*", "nrt".into())
        .await
        .unwrap();
    nats.flush().await.unwrap();
    let client = HttpClient::new(&connection(&server).await);
    let asking = tokio::spawn(async move { client.get("http://go.nats/missing?x=1").await });
    let request = within("the request", go_server.next()).await.unwrap();
    assert_eq!(request.subject.as_str(), "nrt.requests.go.nats.get");
    let payload = String::from_utf8_lossy(&request.payload).into_owned();
    assert!(
        payload.starts_with("GET /missing?x=1 HTTP/1.1\r\nHost: go.nats\r\n"),
        "{payload:?}"
    );
    // A plain message (nrt's NRT-* NATS headers are informational: Go
    // servers read the payload); how long the caller waits rides in it.
    assert!(request.headers.is_none());
    assert!(
        payload.contains("\r\nnrpc-timeout: 30000\r\n"),
        "{payload:?}"
    );
    nats.publish(
        request.reply.unwrap(),
        Bytes::from_static(b"HTTP/0.0 404 Not Found\r\nContent-Length: 3\r\n\r\nnop"),
    )
    .await
    .unwrap();
    let reply = within("the reply", asking).await.unwrap().unwrap();
    assert_eq!(
        (reply.status().as_u16(), reply.body().as_ref()),
        (404, &b"nop"[..])
    );

    // A Go nrt client's request (the bytes nrt's client writes): our
    // server answers it in bytes a Go client reads.
    let handle = serve_echo(&conn).await;
    let go_request = Bytes::from_static(
        b"POST /echo?q=1&q=2 HTTP/1.1\r\nHost: echo.nats\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 7\r\nX-Test: yes\r\n\r\n{\"a\":1}",
    );
    let reply = within(
        "a reply",
        nats.request("nrt.requests.echo.nats.post", go_request),
    )
    .await
    .unwrap();
    assert!(reply.headers.is_none(), "a plain message, as nrt's");
    let text = String::from_utf8_lossy(&reply.payload).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text:?}");
    assert!(text.contains("\r\nContent-Length: 7\r\n"), "{text:?}");
    // Named as nrt's servers name themselves.
    let server_name = conn.nats().server_info().server_name;
    assert!(text.contains("\r\nNrt-Id: "), "{text:?}");
    assert!(
        text.contains(&format!("\r\nNrt-Connected-Server: {server_name}\r\n")),
        "{text:?}"
    );
    assert!(text.contains("\r\nNrt-Client: "), "{text:?}");
    assert!(
        !text.contains("Nrt-Connected-Cluster"),
        "not clustered: {text:?}"
    );
    assert!(text.ends_with("\r\n\r\n{\"a\":1}"), "{text:?}");
    // nrt's Go client adds informational NATS headers: the handler can
    // read them.
    let mut nrt_headers = nrpc_runtime::async_nats::HeaderMap::new();
    nrt_headers.insert("NRT-HostName", "echo.nats");
    nrt_headers.insert("NRT-Method", "GET");
    nrt_headers.insert("NRT-Path", "/remote");
    let reply = within(
        "a reply",
        nats.request_with_headers(
            "nrt.requests.echo.nats.get",
            nrt_headers,
            Bytes::from_static(b"GET /remote HTTP/1.1\r\nHost: echo.nats\r\n\r\n"),
        ),
    )
    .await
    .unwrap();
    let reply = nrpc_http::wire::decode_response(&reply.payload).unwrap();
    assert_eq!(reply.headers()["x-nrt-host"], "echo.nats");
    assert_eq!(reply.headers()["x-subject"], "nrt.requests.echo.nats.get");
    // A payload that is not HTTP gets a 400 saying so (a Go server drops it).
    let reply = within(
        "a reply to garbage",
        nats.request(
            "nrt.requests.echo.nats.get",
            Bytes::from_static(b"not http"),
        ),
    )
    .await
    .unwrap();
    let reply = nrpc_http::wire::decode_response(&reply.payload).unwrap();
    assert_eq!(reply.status(), 400);
    assert!(String::from_utf8_lossy(reply.body()).contains("not an HTTP request"));
    handle.shutdown(Duration::from_secs(5)).await;

    // A peer that answers what is not HTTP: the client says 502, why.
    let mut liar = nats
        .queue_subscribe("nrt.requests.liar.nats.*", "nrt".into())
        .await
        .unwrap();
    nats.flush().await.unwrap();
    let client = HttpClient::new(&connection(&server).await);
    let asking = tokio::spawn(async move { client.get("http://liar.nats/").await });
    let request = within("the request", liar.next()).await.unwrap();
    nats.publish(request.reply.unwrap(), Bytes::from_static(b"garbage"))
        .await
        .unwrap();
    let reply = within("the answer", asking).await.unwrap().unwrap();
    assert_eq!(reply.status(), 502);
    assert!(String::from_utf8_lossy(reply.body()).contains("not an HTTP response"));
}

#[tokio::test]
async fn a_weighted_mapping_sends_a_share_of_the_traffic_to_a_canary() {
    let server = NatsServer::start_with_config(
        r#"mappings = { "nrt.requests.echo.nats.*": [
            { destination: "v1.requests.echo.nats.$1", weight: 90% },
            { destination: "v2.requests.echo.nats.$1", weight: 10% } ] }"#,
    )
    .unwrap();
    let conn = connection(&server).await;
    let version = |v: &'static str| axum::Router::new().route("/", get(move || async move { v }));
    let v1 = HttpServer::builder(&conn, "echo.nats")
        .unwrap()
        .prefix("v1")
        .serve(version("v1"))
        .await
        .unwrap();
    let v2 = HttpServer::builder(&conn, "echo.nats")
        .unwrap()
        .prefix("v2")
        .serve(version("v2"))
        .await
        .unwrap();
    // Callers know nothing of versions: the broker splits their requests.
    let client = HttpClient::new(&connection(&server).await).with_prefix("nrt");
    let mut canary = 0;
    for _ in 0..400 {
        let reply = within("a reply", client.get("http://echo.nats/"))
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        if reply.body().as_ref() == b"v2" {
            canary += 1;
        }
    }
    // 10 % of 400 is 40; the bounds are about six standard deviations.
    assert!(
        (15..=75).contains(&canary),
        "{canary} of 400 went to the canary"
    );
    v1.shutdown(Duration::from_secs(5)).await;
    v2.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_instance_on_each_of_two_brokers_losing_one_broker_loses_no_service() {
    let mut nodes = NatsServer::start_cluster(2, "").unwrap();
    let on = |node: &NatsServer, name: &'static str| {
        let url = node.url();
        async move {
            let conn = ConnectOptions::new()
                .ignore_environment()
                .servers(url)
                .connect()
                .await
                .unwrap();
            let app = axum::Router::new().route("/", get(move || async move { name }));
            let handle = HttpServer::builder(&conn, "echo.nats")
                .unwrap()
                .serve(app)
                .await
                .unwrap();
            (conn, handle)
        }
    };
    let (_a_conn, _a) = on(&nodes[0], "a").await;
    let (_b_conn, _b) = on(&nodes[1], "b").await;
    let client = HttpClient::new(&connection(&nodes[1]).await).with_timeout(Duration::from_secs(2));
    // Both instances answer, across the route, each naming the broker it
    // is connected to (as nrt's servers do).
    let mut seen = std::collections::HashMap::new();
    within("both instances answer", async {
        while seen.len() < 2 {
            let reply = client.get("http://echo.nats/").await.unwrap();
            if reply.status() == 200 {
                let named = |h: &str| reply.headers()[h].to_str().unwrap().to_owned();
                assert_eq!(named("nrt-connected-cluster"), "nrpc-test");
                assert!(!named("nrt-id").is_empty() && !named("nrt-client").is_empty());
                seen.insert(reply.body().clone(), named("nrt-connected-server"));
            }
        }
    })
    .await;
    assert_eq!(seen[&Bytes::from_static(b"a")], "n0");
    assert_eq!(seen[&Bytes::from_static(b"b")], "n1");
    // The first broker dies: calls go on being answered.
    nodes[0].stop();
    within("answers after the broker's loss", async {
        let mut in_a_row = 0;
        while in_a_row < 20 {
            let reply = client.get("http://echo.nats/").await.unwrap();
            in_a_row = if reply.status() == 200 {
                in_a_row + 1
            } else {
                0
            };
        }
    })
    .await;
}

#[tokio::test]
async fn replies_name_the_broker_the_server_is_on_now() {
    let mut server = NatsServer::start().unwrap();
    let conn = connection(&server).await;
    let handle = serve_echo(&conn).await;
    // A request sent as the broker goes down is lost with it (at most
    // once): it ends in a 504 after this.
    let client = HttpClient::new(&connection(&server).await).with_timeout(Duration::from_secs(2));
    let named = |reply: &http::Response<Bytes>, header: &str| {
        reply.headers()[header].to_str().unwrap().to_owned()
    };
    let first = client.get("http://echo.nats/echo").await.unwrap();
    let broker = named(&first, "nrt-connected-server");
    assert_eq!(broker, conn.nats().server_info().server_name);
    let second = client.get("http://echo.nats/echo").await.unwrap();
    assert_ne!(named(&first, "nrt-id"), named(&second, "nrt-id"));
    // A restarted broker has another name (its new server id): once the
    // server is back, its replies say so.
    server.restart().unwrap();
    within("a reply naming the restarted broker", async {
        loop {
            match client.get("http://echo.nats/echo").await {
                Ok(reply) if reply.status() == 200 => {
                    if named(&reply, "nrt-connected-server") != broker {
                        break;
                    }
                }
                // Reconnecting: ask again shortly.
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await;
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn an_http_service_is_in_nats_services_discovery() {
    use nrpc_runtime::discovery::Discovery;
    let server = NatsServer::start().unwrap();
    let conn = connection(&server).await;
    let handle = HttpServer::builder(&conn, "echo.nats")
        .unwrap()
        .version("1.2.3")
        .serve(app(Probe::default()))
        .await
        .unwrap();
    let client = HttpClient::new(&connection(&server).await);
    for _ in 0..3 {
        client.get("http://echo.nats/echo").await.unwrap();
    }
    client.get("http://echo.nats/status/503").await.unwrap();
    let discovery = Discovery::new(connection(&server).await);
    let infos = discovery.info(Some("echo_nats")).await.unwrap();
    let [info] = &infos[..] else {
        panic!("{infos:?}")
    };
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("echo_nats", "1.2.3")
    );
    let endpoint = &info.endpoints[0];
    assert_eq!(endpoint.subject, "nrt.requests.echo.nats.*");
    assert_eq!(endpoint.queue_group.as_deref(), Some("nrt"));
    let stats = discovery.stats(Some("echo_nats")).await.unwrap();
    let counted = &stats[0].endpoints[0];
    assert_eq!((counted.num_requests, counted.num_errors), (4, 1));
    assert_eq!(counted.last_error, "HTTP 503");
    handle.shutdown(Duration::from_secs(5)).await;
}
