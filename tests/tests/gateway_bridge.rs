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
                    "{} {} for={} proto={} host={} tenant={} {}",
                    parts.method,
                    parts.uri,
                    header("x-forwarded-for"),
                    header("x-forwarded-proto"),
                    header("x-forwarded-host"),
                    header("tenant"),
                    String::from_utf8_lossy(&body)
                ),
            )
        }),
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
        .body("sunny?")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 202);
    assert_eq!(reply.headers()["x-served-by"], "weather");
    assert_eq!(
        reply.text().await.unwrap(),
        format!("POST /city/lisbon?x=1 for=127.0.0.1 proto=http host={host} tenant=acme sunny?")
    );
    // The prefix itself, and a GET.
    let reply = http
        .get(format!("{}/city", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 202);
    assert!(reply.text().await.unwrap().starts_with("GET /city for="));
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
