//! Beyond nats-roundtripper, between nrpc-http peers: bodies larger than the
//! broker's max_payload both ways, responses delivered as they are produced
//! (server-sent events), and callers that give up cancelling the handler —
//! through a real nats-server with a small max_payload (64 KiB), so bodies
//! take many chunks and flow control is exercised.

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::sse::{Event, Sse};
use axum::routing::{any, get};
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyExt;
use nats_harness::NatsServer;
use nrpc_http::{HttpClient, HttpServer};
use nrpc_runtime::{ConnectOptions, Connection};
use tokio::sync::{mpsc, Semaphore};

const PATIENCE: Duration = Duration::from_secs(20);
const MAX_PAYLOAD: usize = 64 * 1024;

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {PATIENCE:?}"))
}

fn broker() -> NatsServer {
    NatsServer::start_with_config(&format!("max_payload: {MAX_PAYLOAD}")).unwrap()
}

async fn connection(server: &NatsServer) -> Connection {
    ConnectOptions::new()
        .ignore_environment()
        .servers(server.url())
        .connect()
        .await
        .unwrap()
}

/// A body no two chunks of which are alike.
fn pattern(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// Events the test sends, as server-sent events; `closed` gets a permit
/// when the response's stream is dropped.
#[derive(Clone)]
struct Feed {
    events: Arc<Mutex<Option<mpsc::Receiver<String>>>>,
    closed: Arc<Semaphore>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            events: Arc::default(),
            closed: Arc::new(Semaphore::new(0)),
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

/// `/echo` answers the request's body with its length in `x-length`;
/// `/events` streams the feed; `/wait` holds until cancelled (a permit on
/// `entered` when it starts, on `left` when it is dropped).
fn app(feed: Feed, entered: Arc<Semaphore>, left: Arc<Semaphore>) -> axum::Router {
    axum::Router::new()
        .route(
            "/echo",
            any(|body: Bytes| async move { ([("x-length", body.len().to_string())], body) })
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        // axum's default limit: 2 MB, then 413 before the body has all come.
        .route(
            "/limited",
            any(|body: Bytes| async move { body.len().to_string() }),
        )
        .route(
            "/events",
            get(move || async move {
                let events = feed.events.lock().unwrap().take().unwrap();
                let guard = OnDrop(feed.closed.clone());
                let stream =
                    futures::stream::unfold((events, guard), |(mut events, guard)| async {
                        let data = events.recv().await?;
                        Some((
                            Ok::<_, std::convert::Infallible>(Event::default().data(data)),
                            (events, guard),
                        ))
                    });
                Sse::new(stream)
            }),
        )
        .route(
            "/wait",
            get(move || async move {
                let _left = OnDrop(left.clone());
                entered.add_permits(1);
                std::future::pending::<()>().await;
            }),
        )
}

async fn serve(conn: &Connection, feed: Feed) -> (nrpc_http::HttpServerHandle, Probe) {
    let probe = Probe::default();
    let handle = HttpServer::builder(conn, "big.nats")
        .unwrap()
        .serve(app(feed, probe.entered.clone(), probe.left.clone()))
        .await
        .unwrap();
    (handle, probe)
}

struct Probe {
    entered: Arc<Semaphore>,
    left: Arc<Semaphore>,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            entered: Arc::new(Semaphore::new(0)),
            left: Arc::new(Semaphore::new(0)),
        }
    }
}

#[tokio::test]
async fn bodies_over_max_payload_stream_both_ways_between_rust_peers() {
    let server = broker();
    let conn = connection(&server).await;
    let (handle, _) = serve(&conn, Feed::default()).await;
    let client = HttpClient::new(&connection(&server).await);
    for len in [MAX_PAYLOAD - 100, MAX_PAYLOAD, 3 * 1024 * 1024 + 17] {
        let body = pattern(len);
        let reply = within(
            "a large echo",
            client.post("http://big.nats/echo", body.clone()),
        )
        .await
        .unwrap();
        assert_eq!(reply.status(), 200, "{len}");
        assert_eq!(reply.headers()["x-length"], len.to_string().as_str());
        assert!(reply.body() == &body, "{len} bytes came back changed");
    }
    // A service that answers before the whole body came (axum's 2 MB
    // limit): the upload ends, its answer is the response.
    let reply = within(
        "an early answer",
        client.post("http://big.nats/limited", pattern(3 << 20)),
    )
    .await
    .unwrap();
    assert_eq!(reply.status(), 413);
    // A body of unknown length (a stream of frames) that turns out large.
    let frames = (0..40)
        .map(|i| Ok::<_, std::convert::Infallible>(http_body::Frame::data(pattern(10_000 + i))));
    let streamed = http_body_util::StreamBody::new(futures::stream::iter(frames));
    let request = http::Request::put("http://big.nats/echo")
        .body(streamed)
        .unwrap();
    let reply = within("a streamed upload", client.send(request))
        .await
        .unwrap();
    let expected: usize = (0..40).map(|i| 10_000 + i).sum();
    assert_eq!(reply.body().len(), expected);
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_body_too_large_for_an_nrt_server_is_413_at_once() {
    let server = broker();
    let conn = connection(&server).await;
    // An nrt server (Go): it subscribes to requests only.
    let mut go_server = conn
        .nats()
        .queue_subscribe("nrt.requests.go.nats.*", "nrt".into())
        .await
        .unwrap();
    conn.round_trip(PATIENCE).await.unwrap();
    let client = HttpClient::new(&connection(&server).await);
    let reply = within(
        "a refusal",
        client.post("http://go.nats/upload", pattern(200_000)),
    )
    .await
    .unwrap();
    assert_eq!(reply.status(), 413);
    let text = String::from_utf8_lossy(reply.body()).into_owned();
    assert!(text.contains("200000 bytes"), "{text}");
    assert!(
        text.contains(&format!("max_payload ({MAX_PAYLOAD} bytes)")),
        "{text}"
    );
    // The Go server never saw a part of it; a small request still reaches it.
    let small = tokio::spawn({
        let client = client.clone();
        async move { client.post("http://go.nats/upload", "small").await }
    });
    let request = within("the small request", go_server.next()).await.unwrap();
    assert!(request.payload.ends_with(b"\r\n\r\nsmall"));
    conn.nats()
        .publish(
            request.reply.unwrap(),
            Bytes::from_static(b"HTTP/1.1 204 No Content\r\n\r\n"),
        )
        .await
        .unwrap();
    assert_eq!(
        within("the answer", small).await.unwrap().unwrap().status(),
        204
    );
}

#[tokio::test]
async fn server_sent_events_arrive_one_by_one_and_stop_with_the_reader() {
    let server = broker();
    let conn = connection(&server).await;
    let (events, rx) = mpsc::channel(4);
    let feed = Feed::default();
    *feed.events.lock().unwrap() = Some(rx);
    let (handle, _) = serve(&conn, feed.clone()).await;
    let client = HttpClient::new(&connection(&server).await);
    let request = http::Request::get("http://big.nats/events")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    // The head arrives before any event exists.
    let response = within("the head", client.stream(request)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    assert!(body.is_streamed());
    // Each event arrives before the next is produced; one larger than a
    // chunk arrives whole.
    let big = "x".repeat(3 * MAX_PAYLOAD);
    for event in ["one", "two", big.as_str()] {
        events.send(event.to_owned()).await.unwrap();
        let mut seen = String::new();
        while !seen.ends_with("\n\n") {
            let frame = within("an event", body.frame()).await.unwrap().unwrap();
            seen.push_str(&String::from_utf8_lossy(&frame.into_data().unwrap()));
        }
        assert_eq!(seen, format!("data: {event}\n\n"));
    }
    // The reader goes away: the handler's stream is dropped.
    drop(body);
    within("the stream dropped", feed.closed.acquire())
        .await
        .unwrap()
        .forget();
    assert!(events.is_closed() || events.send("late".into()).await.is_err());
    handle.shutdown(Duration::from_secs(5)).await;
}

/// A broker restart in the middle of a streamed response: the body says
/// it did not arrive whole (never a silent gap or a hang), and the
/// handler's stream is dropped.
#[tokio::test]
async fn a_broker_restart_mid_stream_fails_the_body_and_frees_the_handler() {
    let mut server = broker();
    let conn = connection(&server).await;
    let (events, rx) = mpsc::channel(64);
    let feed = Feed::default();
    *feed.events.lock().unwrap() = Some(rx);
    let (handle, _) = serve(&conn, feed.clone()).await;
    let client = HttpClient::new(&connection(&server).await);
    let request = http::Request::get("http://big.nats/events")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let response = within("the head", client.stream(request)).await.unwrap();
    let mut body = response.into_body();
    events.send("before".to_owned()).await.unwrap();
    let frame = within("the first event", body.frame())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frame.into_data().unwrap(), "data: before\n\n");
    server.restart().unwrap();
    // Events go on while the connections come back; some are lost.
    let producing = tokio::spawn(async move {
        for i in 0.. {
            if events.send(format!("after {i}")).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let ended = within("the body's end", async {
        loop {
            match body.frame().await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => break Some(e),
                None => break None,
            }
        }
    })
    .await;
    let error = ended.expect("the body says it did not arrive whole, never ends cleanly");
    let text = error.to_string();
    assert!(
        text.contains("lost") || text.contains("nothing for") || text.contains("closed"),
        "{text}"
    );
    drop(body);
    within("the handler's stream dropped", feed.closed.acquire())
        .await
        .unwrap()
        .forget();
    within("the producer stopped", producing).await.unwrap();
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_caller_that_gives_up_cancels_the_handler() {
    let server = broker();
    let conn = connection(&server).await;
    let (handle, probe) = serve(&conn, Feed::default()).await;
    // It would wait 10 minutes: what ends the handler is the cancel.
    let client = HttpClient::new(&connection(&server).await).with_timeout(Duration::from_secs(600));
    let asking = tokio::spawn(async move { client.get("http://big.nats/wait").await });
    within("the handler", probe.entered.acquire())
        .await
        .unwrap()
        .forget();
    asking.abort();
    within("the handler cancelled", probe.left.acquire())
        .await
        .unwrap()
        .forget();
    handle.shutdown(Duration::from_secs(5)).await;
}
