//! An axum app served on a local HTTP port and over NATS as `echo.nats` at
//! once, called both ways. `/echo` answers what it was sent, as JSON;
//! `/city/{name}` answers a city's (made-up) weather.
//!
//! ```text
//! cargo run -p nrpc-examples --bin http_over_nats          # serve, call both ways, exit
//! cargo run -p nrpc-examples --bin http_over_nats -- serve # serve until interrupted
//! ```
//!
//! With `serve` it connects as `nrpc_runtime::connect()` does (`NATS_URL`,
//! NATS contexts …); a Go nats-roundtripper client, or `nrpc http`, can
//! then call `http://echo.nats/echo`.

use std::error::Error;
use std::time::Duration;

use axum::routing::{any, get};
use nrpc_examples::Nats;
use nrpc_http::{HttpClient, HttpServer};
use nrpc_runtime::ConnectOptions;

// ANCHOR: app
/// The app: nothing in it knows about NATS.
fn app() -> axum::Router {
    axum::Router::new()
        .route(
            "/echo",
            any(|request: axum::extract::Request| async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .unwrap_or_default();
                let headers: serde_json::Map<String, serde_json::Value> = parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                    .collect();
                axum::Json(serde_json::json!({
                    "method": parts.method.as_str(),
                    "path": parts.uri.path(),
                    "query": parts.uri.query(),
                    "headers": headers,
                    "body": String::from_utf8_lossy(&body),
                }))
            }),
        )
        .route(
            "/city/{name}",
            get(
                |axum::extract::Path(name): axum::extract::Path<String>| async move {
                    axum::Json(serde_json::json!({ "city": name, "sky": "clear", "celsius": 21 }))
                },
            ),
        )
}
// ANCHOR_END: app

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let serve_only = std::env::args().nth(1).as_deref() == Some("serve");
    let nats = if serve_only {
        None
    } else {
        Some(Nats::from_env()?)
    };
    let conn = match &nats {
        Some(nats) => ConnectOptions::new().servers(&nats.url).connect().await?,
        None => nrpc_runtime::connect().await?,
    };

    // ANCHOR: serve
    // Its usual HTTP listener…
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http_url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app()).await });
    // …and over NATS, as echo.nats: one more line.
    let over_nats = HttpServer::builder(&conn, "echo.nats")?
        .serve(app())
        .await?;
    // ANCHOR_END: serve
    println!("serving on {http_url} and over NATS as http://echo.nats");

    if serve_only {
        tokio::signal::ctrl_c().await?;
        over_nats.shutdown(Duration::from_secs(10)).await;
        return Ok(());
    }

    // ANCHOR: call
    let client = HttpClient::new(&conn);
    let reply = client
        .post("http://echo.nats/echo?from=nats", "hello")
        .await?;
    println!(
        "over NATS: {} {}",
        reply.status(),
        String::from_utf8_lossy(reply.body())
    );
    let reply = client.get("http://echo.nats/city/lisbon").await?;
    println!(
        "over NATS: {} {}",
        reply.status(),
        String::from_utf8_lossy(reply.body())
    );
    // ANCHOR_END: call

    // The same request over plain HTTP, for comparison.
    let (status, body) = plain_http(&http_url, "/city/lisbon").await?;
    println!("over HTTP: {status} {body}");

    over_nats.shutdown(Duration::from_secs(10)).await;
    Ok(())
}

/// GET `path` over plain HTTP/1.1 (hyper's pooled client).
async fn plain_http(base: &str, path: &str) -> Result<(u16, String), Box<dyn Error>> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = client.get(format!("{base}{path}").parse()?).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
