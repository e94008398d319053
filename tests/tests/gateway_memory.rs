//! The gateway's memory under stalled callers — subscribers that stop
//! reading, uploads that stop sending — measured as the process's resident
//! memory. In a test binary of its own, one test at a time, so that no other
//! test's allocations are counted.

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use nrpc_tests::{gateway_with, nats_server, serve_alarms, serve_greeter, within};

/// One measuring test at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The process's resident memory, in MiB (Linux).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

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

#[tokio::test(flavor = "multi_thread")]
async fn event_subscribers_that_stop_reading_are_cut_off_and_memory_stays_flat() {
    let _alone = ONE_AT_A_TIME.lock().await;
    use futures::StreamExt;
    use nrpc_tests::alarms::alarms_server::AlarmsEvents;
    use nrpc_tests::greeter::HelloReply;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = nats_server();
    let _alarms = serve_alarms(&server).await;
    let gateway = gateway_with(&server, |b| b.subscriber_buffer(4 << 20)).await;
    let address = gateway.url.trim_start_matches("http://").to_owned();
    let path = "/alarms.v1.Alarms/Rung";

    // Two subscribers that ask, then never read; one that reads.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        let ask = format!(
            "GET {path} HTTP/1.1\r\nhost: {address}\r\naccept: application/x-ndjson\r\n\r\n"
        );
        socket.write_all(ask.as_bytes()).await.unwrap();
        stalled.push(socket);
    }
    let reader = http()
        .get(format!("{}{path}", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reader.status(), 200);
    let mut reader = reader.bytes_stream();
    let publisher = AlarmsEvents::new(nrpc_tests::connection(&server).await);
    let event = HelloReply {
        message: "x".repeat(256 << 10),
    };
    // Warm up (and let every subscription start), then measure.
    let (count, batch) = (400, 8);
    let mut received = 0usize;
    // Each arrives as one NDJSON line: {"message":"…"}\n
    let want = |n: usize| n * (event.message.len() + 15);
    publisher.publish_rung(&event).await.unwrap();
    let mut got = 0usize;
    while got < want(1) {
        let chunk = within("the first event", reader.next())
            .await
            .unwrap()
            .unwrap();
        assert!(
            chunk.starts_with(b"{\"message\":\"xxx") || got > 0,
            "{:?}",
            String::from_utf8_lossy(&chunk[..chunk.len().min(300)])
        );
        got += chunk.len();
    }
    let before = rss_mib();
    for _ in 0..count / batch {
        for _ in 0..batch {
            publisher.publish_rung(&event).await.unwrap();
        }
        // Keep up with the reading subscriber (and so with the gateway).
        received += batch;
        while got < want(received + 1) {
            got += within("events", reader.next())
                .await
                .unwrap()
                .unwrap()
                .len();
        }
    }
    let after = rss_mib();
    let published_mib = (count * event.message.len()) as f64 / (1 << 20) as f64;
    // Each stalled subscriber was sent 100 MiB of events; what the gateway
    // holds for them is its buffer (4 MiB) and the sockets' (a few MiB).
    assert!(
        after - before < 48.0,
        "RSS {before:.0} -> {after:.0} MiB while {published_mib:.0} MiB of events went to two stalled subscribers"
    );
    // The stalled subscribers, once they read, find they were cut off.
    for mut socket in stalled {
        let mut seen = Vec::new();
        let mut chunk = vec![0u8; 1 << 20];
        within("the cut-off", async {
            loop {
                let n = socket.read(&mut chunk).await.unwrap();
                seen.extend_from_slice(&chunk[..n]);
                if n == 0 || seen.windows(7).any(|w| w == b"cut off") {
                    break;
                }
            }
        })
        .await;
        let tail = String::from_utf8_lossy(&seen[seen.len().saturating_sub(400)..]).into_owned();
        assert!(
            tail.contains("RESOURCE_EXHAUSTED") && tail.contains("cut off"),
            "{tail}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_uploads_cannot_pin_more_than_the_body_budget() {
    let _alone = ONE_AT_A_TIME.lock().await;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let (max_body, budget) = (1usize << 20, 8usize << 20);
    let gateway = gateway_with(&server, |b| b.max_body(max_body).body_budget(budget)).await;
    let address = gateway.url.trim_start_matches("http://").to_owned();
    // Warm up: the service is learned, buffers exist.
    let (status, _) = post(format!("{}/greeter.v1.Greeter/SayHello", gateway.url), "{}").await;
    assert_eq!(status, 200);
    let before = rss_mib();

    // 200 uploads of a body just under the limit, each stopping 200 bytes
    // short of its end.
    let uploads = 200;
    let (answered, mut answers) = tokio::sync::mpsc::unbounded_channel();
    let mut sockets = Vec::new();
    for _ in 0..uploads {
        let socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        let (read, mut write) = socket.into_split();
        let head = format!(
            "POST /greeter.v1.Greeter/SayHello HTTP/1.1\r\nhost: {address}\r\n\
             content-type: application/json\r\ncontent-length: {max_body}\r\n\r\n"
        );
        write.write_all(head.as_bytes()).await.unwrap();
        let answered = answered.clone();
        tokio::spawn(async move {
            // The first line of an answer, if one comes.
            let mut line = String::new();
            let mut read = tokio::io::BufReader::new(read);
            if read.read_line(&mut line).await.is_ok() && !line.is_empty() {
                let _ = answered.send(line);
            }
        });
        let body = vec![b' '; max_body - 200];
        // A refused upload may see its connection closed mid-body.
        let _ = write.write_all(&body).await;
        sockets.push(write);
    }
    // All but those the budget holds are refused, at once, with 503.
    let held_at_most = budget / (max_body - 200);
    let mut refused = 0;
    while refused < uploads - held_at_most {
        let line = within("the refusals", answers.recv()).await.unwrap();
        assert!(line.starts_with("HTTP/1.1 503"), "{line}");
        refused += 1;
    }
    let after = rss_mib();
    assert!(
        after - before < 64.0,
        "RSS {before:.0} -> {after:.0} MiB with {uploads} stalled uploads of {} MiB",
        max_body >> 20
    );
    // A small call still fits in what is left.
    let (status, body) = post(
        format!("{}/greeter.v1.Greeter/SayHello", gateway.url),
        r#"{"name":"small"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Once the stalled uploads go away, so does what they held.
    drop(sockets);
    let big = format!(r#"{{"name":"{}"}}"#, "b".repeat(max_body / 2));
    let (status, body) = within("budget back", async {
        loop {
            let (status, body) =
                post(format!("{}/greeter.v1.Greeter/SayHello", gateway.url), &big).await;
            if status != 503 {
                return (status, body);
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(status, 200, "{body}");
}
