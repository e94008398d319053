//! Client-streaming and bidirectional methods (nrpc's extension of the
//! stream protocol), and proto3 `returns (stream T)`, on real servers.

use std::sync::Arc;

use futures::StreamExt;
use nrpc_runtime::{CallError, Code, Request, Response, Sink, Status, Streaming};
use nrpc_tests::chat::chat_client::ChatClient;
use nrpc_tests::chat::chat_server::{Chat, ChatServer};
use nrpc_tests::chat::{Sentence, Word};
use nrpc_tests::{cancelled, connection, nats_server, serve, within, Event};
use tokio::sync::{mpsc, Semaphore};

struct ChatService {
    events: mpsc::UnboundedSender<Event>,
    /// `hold` makes `collect` read one more word per permit.
    gate: Arc<Semaphore>,
}

fn word(text: impl Into<String>) -> Word {
    Word { text: text.into() }
}

impl Chat for ChatService {
    async fn collect(
        &self,
        request: Request<Streaming<Word>>,
    ) -> Result<Response<Sentence>, Status> {
        let mut words = request.into_inner();
        let mut all = Vec::new();
        while let Some(w) = words.next().await {
            let w = w?;
            if w.text == "fail" {
                return Err(Status::invalid_argument(format!(
                    "failed after {} words",
                    all.len()
                )));
            }
            all.push(w.text);
            if all[0] == "hold" {
                if all.len() == 1 {
                    let _ = self.events.send(Event::Progress {
                        sent: 1,
                        credit: None,
                    });
                }
                // One permit per further word read.
                self.gate
                    .acquire()
                    .await
                    .map_err(|_| Status::internal("gate"))?
                    .forget();
            }
        }
        Ok(Response::new(Sentence {
            words: all.len() as u32,
            text: all.join(" "),
        }))
    }

    async fn echo(
        &self,
        request: Request<Streaming<Word>>,
        sink: Sink<Word>,
    ) -> Result<(), Status> {
        let token = request.cancellation().clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            token.cancelled().await;
            let _ = events.send(Event::Cancelled("echo".into()));
        });
        let mut words = request.into_inner();
        while let Some(w) = words.next().await {
            let w = w?;
            if w.text == "wait" {
                sink.send(&w).await?;
                std::future::pending::<()>().await;
            }
            if w.text == "fail" {
                return Err(Status::aborted("echo gave up"));
            }
            sink.send(&word(w.text.to_uppercase())).await?;
        }
        Ok(())
    }

    async fn spell(&self, request: Request<Word>, sink: Sink<Word>) -> Result<(), Status> {
        for c in request.into_inner().text.chars() {
            sink.send(&word(c.to_string())).await?;
        }
        Ok(())
    }
}

async fn setup(
    server: &nrpc_tests::NatsServer,
) -> (
    nrpc_runtime::ServerHandle,
    mpsc::UnboundedReceiver<Event>,
    Arc<Semaphore>,
    ChatClient,
) {
    let (events, rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let svc = ChatService {
        events,
        gate: gate.clone(),
    };
    let handle = serve(server, ChatServer::new(svc)).await;
    (handle, rx, gate, ChatClient::new(connection(server).await))
}

#[tokio::test]
async fn client_streaming_collects_every_request() {
    let server = nats_server();
    let (_h, _events, _gate, client) = setup(&server).await;
    let words = futures::stream::iter((0..3000).map(|i| word(i.to_string())));
    let sentence = within("collect", client.collect(words)).await.unwrap();
    assert_eq!(sentence.words, 3000);
    let expected: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    assert_eq!(sentence.text, expected.join(" "));

    let empty = within("collect nothing", client.collect(futures::stream::empty()))
        .await
        .unwrap();
    assert_eq!((empty.words, empty.text.as_str()), (0, ""));
}

#[tokio::test]
async fn bidirectional_echo_keeps_order() {
    let server = nats_server();
    let (_h, _events, _gate, client) = setup(&server).await;
    let words = futures::stream::iter((0..10_000).map(|i| word(format!("w{i}"))));
    let replies: Vec<_> = within("echo", async {
        client.echo(words).await.unwrap().collect().await
    })
    .await;
    assert_eq!(replies.len(), 10_000);
    for (i, r) in replies.into_iter().enumerate() {
        assert_eq!(r.unwrap().text, format!("W{i}"));
    }
}

#[tokio::test]
async fn proto3_server_streaming_uses_the_stream_protocol() {
    let server = nats_server();
    let (_h, _events, _gate, client) = setup(&server).await;
    let letters: Vec<String> = within("spell", async {
        client
            .spell(&word("nats"))
            .await
            .unwrap()
            .map(|w| w.unwrap().text)
            .collect()
            .await
    })
    .await;
    assert_eq!(letters, ["n", "a", "t", "s"]);
}

/// Waits until the request generator reports pulling item `n`.
async fn pulled_until(n: u64, rx: &mut mpsc::UnboundedReceiver<u64>) {
    within("sender progress", async {
        while rx.recv().await != Some(n) {}
    })
    .await
}

#[tokio::test]
async fn a_slow_server_holds_the_client_sender_back() {
    let server = nats_server();
    let (_h, mut events, gate, client) = setup(&server).await;
    let window = u64::from(nrpc_wire::stream::DEFAULT_WINDOW);
    // The request generator reports every item the sender pulls from it.
    let (pulled_tx, mut pulled) = mpsc::unbounded_channel();
    let words = futures::stream::iter(0..5000u64).map(move |i| {
        let _ = pulled_tx.send(i + 1);
        word(if i == 0 {
            "hold".to_owned()
        } else {
            i.to_string()
        })
    });
    let call = tokio::spawn(async move { client.collect(words).await });

    // The server read one word and holds: the sender fills the window,
    // pulls one more item, and waits for credit.
    pulled_until(window + 1, &mut pulled).await;
    tokio::task::yield_now().await;
    assert!(
        pulled.try_recv().is_err(),
        "a sender without credit pulls nothing more"
    );
    assert!(matches!(
        events.recv().await,
        Some(Event::Progress { sent: 1, .. })
    ));

    // Letting the server read half a window grants that much again.
    gate.add_permits(window as usize / 2);
    pulled_until(window + window / 2 + 1, &mut pulled).await;
    tokio::task::yield_now().await;
    assert!(pulled.try_recv().is_err());

    gate.add_permits(Semaphore::MAX_PERMITS / 2);
    let sentence = within("collect", call).await.unwrap().unwrap();
    assert_eq!(sentence.words, 5000);
}

#[tokio::test]
async fn dropping_the_bidi_call_cancels_the_handler() {
    let server = nats_server();
    let (_h, mut events, _gate, client) = setup(&server).await;
    let words = futures::stream::iter([word("wait")]).chain(futures::stream::pending());
    let mut replies = client.echo(words).await.unwrap();
    assert_eq!(
        within("first", replies.next()).await.unwrap().unwrap().text,
        "wait"
    );
    drop(replies);
    cancelled(&mut events, "echo").await;
}

#[tokio::test]
async fn a_server_error_ends_the_call_on_the_client() {
    let server = nats_server();
    let (_h, _events, _gate, client) = setup(&server).await;
    let words = futures::stream::iter(["a", "b", "fail", "c"].map(word));
    let err = within("collect", client.collect(words)).await.unwrap_err();
    let status = err.status().unwrap();
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, "failed after 2 words")
    );

    let words = futures::stream::iter(["x", "fail"].map(word)).chain(futures::stream::pending());
    let replies: Vec<_> = within("echo", async {
        client.echo(words).await.unwrap().collect().await
    })
    .await;
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0].as_ref().unwrap().text, "X");
    assert_eq!(
        replies[1].as_ref().unwrap_err().status().unwrap().code(),
        Code::Aborted
    );
}

#[tokio::test]
async fn a_hundred_concurrent_bidi_calls_stay_apart() {
    let server = nats_server();
    let (_h, _events, _gate, client) = setup(&server).await;
    let calls = (0..100).map(|c| {
        let client = client.clone();
        async move {
            let words = futures::stream::iter((0..200).map(move |i| word(format!("c{c}w{i}"))));
            let replies: Vec<_> = client.echo(words).await.unwrap().collect().await;
            assert_eq!(replies.len(), 200, "{:?}", replies.last());
            for (i, r) in replies.into_iter().enumerate() {
                assert_eq!(r.unwrap().text, format!("C{c}W{i}"));
            }
        }
    });
    within("100 calls", futures::future::join_all(calls)).await;
}

#[tokio::test]
async fn a_server_without_the_extension_is_a_clear_error() {
    // A Go nRPC server answers a stream-request method like any request.
    let server = nats_server();
    let raw = nrpc_tests::nats(&server).await;
    let mut requests = raw.subscribe("chat.Chat.>").await.unwrap();
    raw.flush().await.unwrap();
    let responder = tokio::spawn(async move {
        let msg = requests.next().await.unwrap();
        raw.publish(msg.reply.unwrap(), vec![0x0a, 0x01, b'x'].into())
            .await
            .unwrap();
        raw.flush().await.unwrap();
    });
    let client = ChatClient::new(connection(&server).await);
    let err = within(
        "collect",
        client.collect(futures::stream::iter([word("a")])),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, CallError::Decode(m) if m.message().contains("Nrpc-Stream-Inbox")),
        "{err:?}"
    );
    responder.await.unwrap();
}

#[tokio::test]
async fn a_request_item_too_large_for_nats_ends_the_call_with_resource_exhausted() {
    // Before: UNAVAILABLE, unlike every other oversize; the server's
    // handler learnt of it from an error frame without its code.
    let server = nats_server();
    let (_h, mut events, _gate, client) = setup(&server).await;
    let max = connection(&server).await.nats().max_payload();
    let big = word("x".repeat(max + 1));
    let words = futures::stream::iter([word("a"), big.clone()]);
    let err = within("collect", client.collect(words)).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(matches!(err, CallError::PayloadTooLarge { .. }), "{err:?}");
    // Bidirectional: the replies to what went out come first, then the
    // error; the handler is cancelled.
    let words = futures::stream::iter([word("a"), big]);
    let mut replies = within("echo", client.echo(words)).await.unwrap();
    let mut outcome = Vec::new();
    while let Some(reply) = within("a reply", replies.next()).await {
        outcome.push(reply.map(|w| w.text).map_err(|e| e.code()));
    }
    assert_eq!(
        outcome.last(),
        Some(&Err(Code::ResourceExhausted)),
        "{outcome:?}"
    );
    assert!(outcome.len() <= 2 && (outcome.len() == 1 || outcome[0] == Ok("A".into())));
    cancelled(&mut events, "echo").await;
}
