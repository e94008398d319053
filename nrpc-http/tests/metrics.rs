//! Feature `metrics`: requests counted by host, method and status on both
//! sides, read from a Prometheus recorder.

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use nats_harness::NatsServer;
use nrpc_http::{HttpClient, HttpServer};
use nrpc_runtime::ConnectOptions;

#[tokio::test]
async fn requests_are_counted_by_host_method_and_status() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .unwrap();
    let server = NatsServer::start().unwrap();
    let conn = ConnectOptions::new()
        .ignore_environment()
        .servers(server.url())
        .connect()
        .await
        .unwrap();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let handle = HttpServer::builder(&conn, "echo.nats")
        .unwrap()
        .serve(app)
        .await
        .unwrap();
    let client = HttpClient::new(&conn);
    for _ in 0..3 {
        client.get("http://echo.nats/").await.unwrap();
    }
    client.get("http://echo.nats/missing").await.unwrap();
    let text = recorder.render();
    for side in ["server", "client"] {
        let counted = |status: &str| {
            text.lines().find(|l| {
                l.starts_with(&format!("nrpc_http_{side}_requests_total{{"))
                    && l.contains(r#"host="echo.nats""#)
                    && l.contains(r#"method="GET""#)
                    && l.contains(&format!(r#"status="{status}""#))
            })
        };
        assert!(
            counted("200").is_some_and(|l| l.ends_with(" 3")),
            "{side}:\n{text}"
        );
        assert!(
            counted("404").is_some_and(|l| l.ends_with(" 1")),
            "{side}:\n{text}"
        );
    }
    handle.shutdown(std::time::Duration::from_secs(5)).await;
}
