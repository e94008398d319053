//! HTTP over NATS against its alternatives: a GET of a small JSON reply
//! from the same axum app
//!
//! * `http over nats` — nrpc-http's client and server (`echo.nats`);
//! * `plain http` — hyper's pooled HTTP/1.1 client to the app on loopback;
//! * `raw nats` — async-nats request/reply carrying the same request and
//!   reply bytes, answered by a bare subscriber (the floor).
//!
//! ```text
//! cargo bench -p nrpc-examples --bench http
//! ```
//!
//! One process with nats-server beside it; prints requests/s, p50, p99 at
//! 1, 16, 64 and 256 in flight, then MiB/s for a 32 MiB body of unknown
//! length (streamed in chunks over NATS).

use std::error::Error;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use nrpc_examples::Nats;
use nrpc_http::{HttpClient, HttpServer};
use nrpc_runtime::futures::StreamExt;
use nrpc_runtime::{async_nats, ConnectOptions};

const RUN: Duration = Duration::from_secs(3);
const WARMUP: Duration = Duration::from_millis(500);
const REPLY: &str = r#"{"city":"lisbon","sky":"clear","celsius":21}"#;

/// The size of `/big`'s body, streamed over NATS in chunks.
const BIG: usize = 32 << 20;

fn app() -> axum::Router {
    let big = Bytes::from(vec![7u8; BIG]);
    axum::Router::new()
        .route(
            "/city",
            axum::routing::get(|| async { ([("content-type", "application/json")], REPLY) }),
        )
        .route(
            "/big",
            // A body of unknown length: streamed, 64 KiB frames.
            axum::routing::get(move || {
                let big = big.clone();
                async move {
                    let frames = (0..BIG / 65536).map(move |i| {
                        Ok::<_, std::convert::Infallible>(big.slice(i * 65536..(i + 1) * 65536))
                    });
                    axum::body::Body::from_stream(nrpc_runtime::futures::stream::iter(frames))
                }
            }),
        )
}

fn row(mode: &str, in_flight: usize, (rate, p50, p99): (f64, Duration, Duration)) {
    println!(
        "{mode:<16} {in_flight:>9} {rate:>12.0} {:>10} {:>10}",
        format!("{p50:.1?}"),
        format!("{p99:.1?}")
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let nats = Nats::from_env()?;
    let connect = || ConnectOptions::new().servers(&nats.url).connect();

    let server_conn = connect().await?;
    let _served = HttpServer::builder(&server_conn, "echo.nats")?
        .max_concurrent_requests(4096)
        .serve(app())
        .await?;
    let client = HttpClient::new(&connect().await?);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url: http::Uri = format!("http://{}/city", listener.local_addr()?).parse()?;
    tokio::spawn(async move { axum::serve(listener, app()).await });
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(512)
        .build_http::<http_body_util::Empty<Bytes>>();

    // The floor: the same bytes each way through NATS, no HTTP handling.
    let raw_nats = async_nats::connect(&nats.url).await?;
    let mut raw_requests = raw_nats.subscribe("raw.requests.echo.nats.get").await?;
    let reply = {
        let (parts, ()) = http::Response::builder()
            .header("content-type", "application/json")
            .body(())?
            .into_parts();
        // As an nrpc-http server names itself (an id of nuid's length).
        let by = nrpc_http::wire::Answerer::new("bench", 1, None, "ABCDEFGHIJKLMNOPQRSTUV");
        nrpc_http::wire::encode_response(&parts, &by, REPLY.as_bytes())
    };
    {
        let (raw_nats, reply) = (raw_nats.clone(), reply.clone());
        tokio::spawn(async move {
            while let Some(m) = raw_requests.next().await {
                if let Some(to) = m.reply {
                    let _ = raw_nats.publish(to, reply.clone()).await;
                }
            }
        });
    }
    raw_nats.flush().await?;
    let raw_client = async_nats::connect(&nats.url).await?;
    let request = {
        let (parts, ()) = http::Request::get("http://echo.nats/city")
            .body(())?
            .into_parts();
        // With what an nrpc-http client says of itself.
        let hints = nrpc_http::wire::Hints {
            timeout_ms: Some(30_000),
            takes_stream: true,
        };
        nrpc_http::wire::encode_request(&parts, "echo.nats", &hints, b"")
    };

    println!(
        "GET of a {} B JSON reply, {RUN:?} per row, one process",
        REPLY.len()
    );
    println!(
        "{:<16} {:>9} {:>12} {:>10} {:>10}",
        "mode", "in-flight", "requests/s", "p50", "p99"
    );
    for in_flight in [1, 16, 64, 256] {
        let c = client.clone();
        row(
            "http over nats",
            in_flight,
            measure(in_flight, move || {
                let c = c.clone();
                async move {
                    let r = c.get("http://echo.nats/city").await.expect("over NATS");
                    assert_eq!(r.status(), 200);
                }
            })
            .await,
        );
        let (h, u) = (hyper.clone(), url.clone());
        row(
            "plain http",
            in_flight,
            measure(in_flight, move || {
                let (h, u) = (h.clone(), u.clone());
                async move {
                    let r = h.get(u).await.expect("plain HTTP");
                    assert_eq!(r.status(), 200);
                    r.into_body().collect().await.expect("body");
                }
            })
            .await,
        );
        let (n, q) = (raw_client.clone(), request.clone());
        row(
            "raw nats",
            in_flight,
            measure(in_flight, move || {
                let (n, q) = (n.clone(), q.clone());
                async move {
                    n.request("raw.requests.echo.nats.get", q)
                        .await
                        .expect("raw NATS");
                }
            })
            .await,
        );
    }
    // Bodies streamed between nrpc-http peers, against the same over HTTP.
    println!();
    println!("GET of a {} MiB body of unknown length, 5 times", BIG >> 20);
    let started = std::time::Instant::now();
    for _ in 0..5 {
        let r = client.get("http://echo.nats/big").await.expect("over NATS");
        assert_eq!(r.body().len(), BIG);
    }
    let over_nats = started.elapsed();
    let big_url: http::Uri = url.to_string().replace("/city", "/big").parse()?;
    let started = std::time::Instant::now();
    for _ in 0..5 {
        let r = hyper.get(big_url.clone()).await.expect("plain HTTP");
        let body = r.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(body.len(), BIG);
    }
    let plain = started.elapsed();
    let rate = |took: Duration| (5 * BIG) as f64 / took.as_secs_f64() / (1 << 20) as f64;
    println!("{:<16} {:>9.0} MiB/s", "http over nats", rate(over_nats));
    println!("{:<16} {:>9.0} MiB/s", "plain http", rate(plain));
    Ok(())
}

async fn measure<F, Fut>(in_flight: usize, call: F) -> (f64, Duration, Duration)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    nrpc_examples::bench::measure(in_flight, WARMUP, RUN, call).await
}
