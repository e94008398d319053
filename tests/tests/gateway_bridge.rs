//! The gateway's HTTP bridge: plain HTTP under a path prefix forwarded to
//! an HTTP service served over NATS (nrpc-http), through a real gateway,
//! nats-server and an HTTP client.

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use nrpc_tests::{connection, gateway_with, nats_server};

#[tokio::test]
async fn plain_http_reaches_an_http_service_over_nats() {
    let server = nats_server();
    let conn = connection(&server).await;
    // The service: says what it was asked, and by way of what.
    let app = axum::Router::new().route(
        "/{*path}",
        axum::routing::any(|request: axum::extract::Request| async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let header = |name: &str| {
                parts
                    .headers
                    .get(name)
                    .map_or("-".to_owned(), |v| v.to_str().unwrap().to_owned())
            };
            (
                axum::http::StatusCode::ACCEPTED,
                [("x-served-by", "weather")],
                format!(
                    "{} {} for={} proto={} host={} tenant={} caller={} {}",
                    parts.method,
                    parts.uri,
                    header("x-forwarded-for"),
                    header("x-forwarded-proto"),
                    header("x-forwarded-host"),
                    header("tenant"),
                    header("nrpc-caller"),
                    String::from_utf8_lossy(&body)
                ),
            )
        }),
    );
    // Server-sent events as the test sends them; uploads counted.
    let (events, feed) = tokio::sync::mpsc::channel::<String>(4);
    let feed = std::sync::Arc::new(std::sync::Mutex::new(Some(feed)));
    let app = app
        .route(
            "/city/events",
            axum::routing::get(move || {
                let feed = feed.lock().unwrap().take().unwrap();
                let events = futures::stream::unfold(feed, |mut feed| async move {
                    let data = feed.recv().await?;
                    let event = axum::response::sse::Event::default().data(data);
                    Some((Ok::<_, std::convert::Infallible>(event), feed))
                });
                async move { axum::response::sse::Sse::new(events) }
            }),
        )
        .route(
            "/city/upload",
            axum::routing::post(
                |body: bytes::Bytes| async move { format!("{} bytes", body.len()) },
            )
            .layer(axum::extract::DefaultBodyLimit::disable()),
        );
    let served = nrpc_http::HttpServer::builder(&conn, "weather.nats")
        .unwrap()
        .serve(app)
        .await
        .unwrap();
    let gateway = gateway_with(&server, |b| {
        b.http_route("/city", "weather.nats")
            .and_then(|b| b.http_route("/gone", "nobody.nats"))
            .unwrap()
    })
    .await;
    let http = reqwest::Client::new();
    let host = gateway.url.trim_start_matches("http://").to_owned();

    let reply = http
        .post(format!("{}/city/lisbon?x=1", gateway.url))
        .header("tenant", "acme")
        // A caller cannot claim an identity: the gateway's header is its own.
        .header("Nrpc-Caller", "api-key admin all")
        .body("sunny?")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 202);
    assert_eq!(reply.headers()["x-served-by"], "weather");
    assert_eq!(
        reply.text().await.unwrap(),
        format!(
            "POST /city/lisbon?x=1 for=127.0.0.1 proto=http host={host} tenant=acme caller=- sunny?"
        )
    );
    // The prefix itself, and a GET.
    let reply = http
        .get(format!("{}/city", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 202);
    assert!(reply.text().await.unwrap().starts_with("GET /city for="));
    // Events pass through as they happen, each before the next exists.
    let mut stream = http
        .get(format!("{}/city/events", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    for event in ["rain", "sun"] {
        events.send(event.to_owned()).await.unwrap();
        let mut seen = String::new();
        while !seen.ends_with("\n\n") {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(20), stream.chunk())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert_eq!(seen, format!("data: {event}\n\n"));
    }
    drop(stream);
    // An upload larger than the broker's max_payload (1 MiB) arrives whole.
    let reply = http
        .post(format!("{}/city/upload", gateway.url))
        .body(vec![7u8; 3 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.text().await.unwrap(), format!("{} bytes", 3 << 20));
    // Nothing serves the host: 503, at once.
    let reply = http
        .get(format!("{}/gone/x", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 503);
    // Paths outside the routes are not bridged.
    let reply = http
        .get(format!("{}/citylights", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 404);
    served.shutdown(std::time::Duration::from_secs(5)).await;
}

#[test]
fn a_route_needs_a_path_and_a_nats_host() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = nats_server();
        let builder = || async { nrpc_gateway::Gateway::builder(connection(&server).await) };
        assert!(builder().await.http_route("city", "weather.nats").is_err());
        assert!(builder()
            .await
            .http_route("/city", "weather.example")
            .is_err());
        assert!(builder().await.http_route("/{x}", "weather.nats").is_err());
        assert!(builder().await.http_route("/city/", "weather.nats").is_ok());
    });
}
