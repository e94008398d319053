//! Streamed replies: nRPC's protocol (heartbeats, keepalives, EOS count,
//! lastbeat) with nrpc's credit flow control, on real servers.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use nrpc_runtime::{CallError, CallOptions, Code};
use nrpc_tests::alloptions::svc_custom_subject_client::SvcCustomSubjectClient;
use nrpc_tests::alloptions::svc_custom_subject_server::SvcCustomSubjectServer;
use nrpc_tests::alloptions::StringArg;
use nrpc_tests::{
    cancelled, connection, nats, nats_server, serve, within, CustomSubject, Event, NatsServer,
};

fn arg(s: &str) -> StringArg {
    StringArg { arg1: s.into() }
}

async fn setup(
    server: &NatsServer,
) -> (
    nrpc_runtime::ServerHandle,
    tokio::sync::mpsc::UnboundedReceiver<Event>,
    SvcCustomSubjectClient,
) {
    let (svc, events) = CustomSubject::new();
    let handle = serve(server, SvcCustomSubjectServer::new(svc)).await;
    let client = SvcCustomSubjectClient::new(connection(server).await, "default").unwrap();
    (handle, events, client)
}

#[tokio::test]
async fn a_million_items_arrive_complete_and_in_order() {
    let server = nats_server();
    let (_h, _events, client) = setup(&server).await;
    let mut stream = client
        .mt_streamed_reply(&arg("count:1000000"))
        .await
        .unwrap();
    let mut next = 0u64;
    let all = async {
        while let Some(item) = stream.next().await {
            assert_eq!(item.unwrap().reply, next.to_string());
            next += 1;
        }
    };
    tokio::time::timeout(Duration::from_secs(300), all)
        .await
        .expect("stream finished");
    assert_eq!(next, 1_000_000);
}

#[tokio::test]
async fn an_error_after_items_ends_the_stream() {
    let server = nats_server();
    let (_h, _events, client) = setup(&server).await;
    let stream = client.mt_streamed_reply(&arg("fail:3")).await.unwrap();
    let items: Vec<_> = within("stream", stream.collect()).await;
    assert_eq!(items.len(), 4);
    for (i, item) in items[..3].iter().enumerate() {
        assert_eq!(item.as_ref().unwrap().reply, i.to_string());
    }
    let status = items[3].as_ref().unwrap_err().status().unwrap();
    assert_eq!(
        (status.code(), status.message()),
        (Code::NotFound, "failed after 3")
    );
}

/// Drains progress events until one matches.
async fn progress_until(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    sent: u64,
) -> Option<u64> {
    within("producer progress", async {
        loop {
            if let Some(Event::Progress { sent: s, credit }) = events.recv().await {
                if s == sent {
                    return credit;
                }
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_slow_consumer_holds_the_producer_back() {
    let server = nats_server();
    let (_h, mut events, client) = setup(&server).await;
    let window = nrpc_wire::stream::DEFAULT_WINDOW as u64;
    let mut stream = client.mt_streamed_reply(&arg("slow:5000")).await.unwrap();

    // Nothing consumed: the producer stops with no credit after one window.
    assert_eq!(progress_until(&mut events, window).await, Some(0));
    tokio::task::yield_now().await;
    assert!(
        events.try_recv().is_err(),
        "blocked producer sends nothing more"
    );

    // Consuming half a window grants exactly that much more.
    for i in 0..window / 2 {
        assert_eq!(
            within("item", stream.next()).await.unwrap().unwrap().reply,
            i.to_string()
        );
    }
    assert_eq!(
        progress_until(&mut events, window + window / 2).await,
        Some(0)
    );
    assert!(events.try_recv().is_err());

    // Draining the stream lets it finish.
    let rest = within("rest", stream.collect::<Vec<_>>()).await;
    assert_eq!(rest.len() as u64, 5000 - window / 2);
    assert!(rest.iter().all(Result::is_ok));
}

#[tokio::test]
async fn dropping_the_client_stream_cancels_the_handler() {
    let server = nats_server();
    let (_h, mut events, client) = setup(&server).await;
    let mut stream = client.mt_streamed_reply(&arg("wait")).await.unwrap();
    assert_eq!(
        within("first item", stream.next())
            .await
            .unwrap()
            .unwrap()
            .reply,
        "0"
    );
    drop(stream);
    cancelled(&mut events, "wait").await;
}

#[tokio::test]
async fn a_silent_handler_is_kept_alive_by_keepalives() {
    let server = nats_server();
    let (_h, mut events, client) = setup(&server).await;
    let inactivity = Duration::from_secs(3);
    let mut stream = client
        .mt_void_req_streamed_reply_with(CallOptions::new().timeout(inactivity))
        .await
        .unwrap();
    // The handler sends nothing; keepalives every second keep the stream open
    // past the inactivity timeout.
    let waited = tokio::time::timeout(inactivity * 2, stream.next()).await;
    assert!(
        waited.is_err(),
        "no item and no error while the server is alive: {waited:?}"
    );
    drop(stream);
    cancelled(&mut events, "void").await;
}

#[tokio::test]
async fn a_server_process_killed_mid_stream_is_an_error_not_a_hang() {
    let server = nats_server();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nrpc-test-stream-server"))
        .env("NATS_URL", server.url())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");

    let client = SvcCustomSubjectClient::new(connection(&server).await, "default").unwrap();
    let mut stream = client.mt_streamed_reply(&arg("wait")).await.unwrap();
    assert_eq!(
        within("first item", stream.next())
            .await
            .unwrap()
            .unwrap()
            .reply,
        "0"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let err = within("error after the kill", stream.next())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, CallError::Timeout(_)), "{err:?}");
    assert!(within("end", stream.next()).await.is_none());
}

#[tokio::test]
async fn a_hundred_concurrent_streams_on_one_connection_stay_apart() {
    let server = nats_server();
    let (_h, _events, client) = setup(&server).await;
    let streams = (0..100).map(|s| {
        let client = client.clone();
        async move {
            let n = 500 + s;
            let items: Vec<_> = client
                .mt_streamed_reply(&arg(&format!("count:{n}")))
                .await
                .unwrap()
                .collect()
                .await;
            assert_eq!(items.len(), n, "stream {s}");
            for (i, item) in items.into_iter().enumerate() {
                assert_eq!(item.unwrap().reply, i.to_string(), "stream {s}");
            }
        }
    });
    within("100 streams", futures::future::join_all(streams)).await;
}

#[tokio::test]
async fn a_go_style_client_gets_items_keepalives_and_the_eos_count() {
    // What a Go nRPC client does: own inbox, heartbeats, no credit.
    let server = nats_server();
    let (_h, _events, _client) = setup(&server).await;
    let raw = nats(&server).await;
    let inbox = raw.new_inbox();
    let mut sub = raw.subscribe(inbox.clone()).await.unwrap();
    raw.publish_with_reply(
        "root.default.custom_subject.mtstreamedreply",
        inbox.clone(),
        nrpc_runtime::prost::Message::encode_to_vec(&arg("count:3")).into(),
    )
    .await
    .unwrap();
    raw.publish(format!("{inbox}.heartbeat"), "".into())
        .await
        .unwrap();
    let mut payloads = Vec::new();
    while payloads
        .last()
        .map(|p: &Vec<u8>| p.first() == Some(&0) && p.len() > 1)
        != Some(true)
    {
        let msg = within("message", sub.next()).await.unwrap();
        if msg.payload.as_ref() != [0] {
            payloads.push(msg.payload.to_vec());
        }
    }
    assert_eq!(payloads.len(), 4);
    assert_eq!(payloads[0], b"\x0a\x010");
    assert_eq!(
        payloads[3],
        [0x00, 0x08, 0x03, 0x18, 0x03],
        "EOS with msgCount 3"
    );
}

#[tokio::test]
async fn a_client_that_reads_batches_gets_every_item_numbered_in_order_in_fewer_messages() {
    // What an nrpc client in another language does: credit, and batches.
    let server = nats_server();
    let (_h, _events, _client) = setup(&server).await;
    let raw = nats(&server).await;
    let inbox = raw.new_inbox();
    let mut sub = raw.subscribe(inbox.clone()).await.unwrap();
    let mut h = nrpc_runtime::HeaderMap::new();
    h.insert("Nrpc-Stream-Credit", "1024");
    h.insert("Nrpc-Stream-Batch", "1");
    let items = 1000u64;
    raw.publish_with_reply_and_headers(
        "root.default.custom_subject.mtstreamedreply",
        inbox.clone(),
        h,
        nrpc_runtime::prost::Message::encode_to_vec(&arg(&format!("count:{items}"))).into(),
    )
    .await
    .unwrap();
    raw.publish(format!("{inbox}.heartbeat"), "".into())
        .await
        .unwrap();
    let (mut got, mut messages, mut next) = (Vec::new(), 0, 1u64);
    loop {
        let msg = within("message", sub.next()).await.unwrap();
        let payload = msg.payload;
        if payload.as_ref() == [0] {
            continue;
        }
        if payload.first() == Some(&0) {
            assert_eq!(got.len() as u64, items, "EOS after every item");
            break;
        }
        messages += 1;
        let batch = match nrpc_wire::stream::split_batch(payload.clone()).unwrap() {
            Some(batch) => batch,
            None => {
                let (seq, item) = nrpc_wire::stream::split_numbered(payload).unwrap();
                (seq.expect("numbered"), vec![item])
            }
        };
        assert_eq!(batch.0, next, "numbers follow on across messages");
        for item in batch.1 {
            let reply: nrpc_tests::alloptions::SimpleStringReply =
                nrpc_runtime::prost::Message::decode(item).unwrap();
            got.push(reply.reply);
            next += 1;
        }
    }
    let expected: Vec<String> = (0..items).map(|i| i.to_string()).collect();
    assert_eq!(got, expected);
    assert!(
        messages <= items / 2,
        "{messages} messages for {items} items sent as fast as possible"
    );
}

/// A stream call of our client answered by a raw peer: `respond` gets the
/// request and publishes what the peer sends; returns what the client read.
async fn read_from_raw_server<F, Fut>(
    respond: F,
) -> Vec<Result<nrpc_tests::alloptions::SimpleStringReply, CallError>>
where
    F: FnOnce(async_nats::Client, async_nats::Message) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let server = nats_server();
    let raw = nats(&server).await;
    let mut requests = raw.subscribe("root.*.custom_subject.>").await.unwrap();
    raw.flush().await.unwrap();
    let responder = tokio::spawn(async move {
        let msg = requests.next().await.unwrap();
        respond(raw.clone(), msg).await;
        raw.flush().await.unwrap();
    });
    let client = SvcCustomSubjectClient::new(connection(&server).await, "default").unwrap();
    let items = within(
        "stream",
        client
            .mt_streamed_reply(&arg("x"))
            .await
            .unwrap()
            .collect::<Vec<_>>(),
    )
    .await;
    responder.await.unwrap();
    items
}

#[tokio::test]
async fn our_client_reads_a_go_style_server_without_credit() {
    // A Go nRPC server ignores credit and ends with EOS.
    let items = read_from_raw_server(|raw, msg| async move {
        let reply = msg.reply.unwrap();
        for i in 0..3u8 {
            raw.publish(reply.clone(), vec![0x0a, 0x01, b'a' + i].into())
                .await
                .unwrap();
            raw.publish(reply.clone(), vec![0].into()).await.unwrap();
        }
        raw.publish(reply, vec![0x00, 0x08, 0x03, 0x18, 0x03].into())
            .await
            .unwrap();
    })
    .await;
    let replies: Vec<String> = items.into_iter().map(|i| i.unwrap().reply).collect();
    assert_eq!(replies, ["a", "b", "c"]);
}

#[tokio::test]
async fn batches_from_a_server_are_read_in_order_and_a_cut_batch_is_a_decode_error() {
    // A peer that batches: items 1–2 in one message, item 3 alone, then a
    // batch whose last item is cut short.
    let items = read_from_raw_server(|raw, msg| async move {
        let batch_header = msg
            .headers
            .as_ref()
            .and_then(|h| h.get("Nrpc-Stream-Batch"));
        assert_eq!(
            batch_header.map(|v| v.as_str()),
            Some("1"),
            "the client asks for batches"
        );
        let reply = msg.reply.unwrap();
        let item = |c: u8| bytes::Bytes::from(vec![0x0a, 0x01, c]);
        let batch = nrpc_wire::stream::encode_batch(1, &[item(b'a'), item(b'b')]);
        raw.publish(reply.clone(), batch).await.unwrap();
        let third = nrpc_wire::stream::number_item(3, &item(b'c'));
        raw.publish(reply.clone(), third).await.unwrap();
        let cut = nrpc_wire::stream::encode_batch(4, &[item(b'd'), item(b'e')]);
        raw.publish(reply, cut.slice(..cut.len() - 1))
            .await
            .unwrap();
    })
    .await;
    let (ok, failed): (Vec<_>, Vec<_>) = items.into_iter().partition(Result::is_ok);
    let replies: Vec<String> = ok.into_iter().map(|i| i.unwrap().reply).collect();
    assert_eq!(replies, ["a", "b", "c"]);
    assert!(
        matches!(failed.as_slice(), [Err(CallError::Decode(m))] if m.to_string().contains("batch")),
        "{failed:?}"
    );
}

#[tokio::test]
async fn an_item_over_max_payload_is_refused_with_a_clear_error() {
    let server = NatsServer::start_with_config("max_payload: 4096").unwrap();
    let (_h, _events, client) = setup(&server).await;
    let items: Vec<_> = within(
        "stream",
        client
            .mt_streamed_reply(&arg("big:10000"))
            .await
            .unwrap()
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(items.len(), 1);
    let status = items[0].as_ref().unwrap_err().status().unwrap().clone();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.message().contains("max_payload of 4096"), "{status}");
}

#[tokio::test]
async fn json_streams_use_json_frames() {
    let server = nats_server();
    let (_h, _events, client) = setup(&server).await;
    let client = client.with_encoding(nrpc_runtime::Encoding::Json);
    let items: Vec<_> = within("json stream", async {
        client
            .mt_streamed_reply(&arg("count:3"))
            .await
            .unwrap()
            .collect::<Vec<_>>()
            .await
    })
    .await;
    let replies: Vec<String> = items.into_iter().map(|i| i.unwrap().reply).collect();
    assert_eq!(replies, ["0", "1", "2"]);

    // On the wire: JSON items and a JSON EOS.
    let raw = nats(&server).await;
    let inbox = raw.new_inbox();
    let mut sub = raw.subscribe(inbox.clone()).await.unwrap();
    raw.publish_with_reply(
        "root.default.custom_subject.mtstreamedreply.json",
        inbox,
        br#"{"arg1":"count:1"}"#.as_ref().into(),
    )
    .await
    .unwrap();
    let mut payloads = Vec::new();
    while payloads.len() < 2 {
        let msg = within("message", sub.next()).await.unwrap();
        if msg.payload.as_ref() != [0] {
            payloads.push(serde_json::from_slice::<serde_json::Value>(&msg.payload).unwrap());
        }
    }
    assert_eq!(payloads[0], serde_json::json!({"reply": "0"}));
    assert_eq!(
        payloads[1],
        serde_json::json!({"__error__": {"type": "EOS", "msgCount": 1}})
    );
}

#[tokio::test]
async fn a_peer_without_flow_control_overrunning_a_slow_client_ends_the_stream() {
    // A Go-style server ignores credit and blasts items.
    let server = nats_server();
    let raw = nats(&server).await;
    let mut requests = raw.subscribe("root.*.custom_subject.>").await.unwrap();
    raw.flush().await.unwrap();
    let responder = tokio::spawn(async move {
        let msg = requests.next().await.unwrap();
        let reply = msg.reply.unwrap();
        for _ in 0..5000 {
            raw.publish(reply.clone(), vec![0x0a, 0x01, b'x'].into())
                .await
                .unwrap();
        }
        raw.flush().await.unwrap();
    });
    let conn = connection(&server).await;
    let client = SvcCustomSubjectClient::new(conn.clone(), "default").unwrap();
    let mut stream = client.mt_streamed_reply(&arg("x")).await.unwrap();
    responder.await.unwrap();
    // Nothing read yet: the router closes the call once its bounded buffer is full.
    within("route closed", async {
        while conn.pending_calls() > 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let mut items = 0;
    let err = loop {
        match within("item", stream.next()).await.unwrap() {
            Ok(_) => items += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, CallError::Overrun), "{err:?}");
    assert!(items < 5000, "{items} items buffered");
}

#[tokio::test]
async fn a_stream_that_fails_on_the_client_cancels_the_handler_while_it_is_held() {
    // Before: a stream ended by an error on the client's side (here its
    // deadline; also lost items, an undecodable item) kept sending
    // heartbeats while the caller held it, so the handler went on.
    let server = nats_server();
    let (_h, mut events, client) = setup(&server).await;
    let options = CallOptions::new().stream_deadline(Duration::from_millis(300));
    let mut stream = client
        .mt_streamed_reply_with(&arg("wait"), options)
        .await
        .unwrap();
    assert_eq!(
        within("first item", stream.next())
            .await
            .unwrap()
            .unwrap()
            .reply,
        "0"
    );
    let err = within("the deadline", stream.next())
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // Still held: the handler is cancelled all the same.
    cancelled(&mut events, "wait").await;
    assert!(within("after the error", stream.next()).await.is_none());
}
