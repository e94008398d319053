//! Streams across a broker restart: every stream either delivers all its
//! items in order or ends with a typed error soon after the loss — never a
//! silent gap, never a stall.

use std::time::Duration;

use futures::StreamExt;
use nats_harness::NatsServer;
use nrpc_runtime::CallError;
use nrpc_tests::alloptions::svc_custom_subject_client::SvcCustomSubjectClient;
use nrpc_tests::alloptions::svc_custom_subject_server::SvcCustomSubjectServer;
use nrpc_tests::alloptions::StringArg;
use nrpc_tests::chat::chat_client::ChatClient;
use nrpc_tests::chat::Word;
use nrpc_tests::{connection, nats_server, serve, within, CustomSubject};

const ITEMS: u64 = 200_000;

/// How a stream ended.
#[derive(Debug)]
enum Ending {
    Complete,
    Failed(CallError),
}

/// Restarts the broker on its port without blocking the runtime.
async fn restart(server: NatsServer) -> NatsServer {
    tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.restart().unwrap_or_else(|e| panic!("{e}"));
        server
    })
    .await
    .unwrap()
}

/// Reads a `count:N` stream, restarting the broker after `restart_after`
/// items; checks that every item that arrives is the next one.
async fn one_trial(server: NatsServer, restart_after: u64) -> (NatsServer, Ending, u64) {
    let (svc, _events) = CustomSubject::new();
    let handle = serve(&server, SvcCustomSubjectServer::new(svc)).await;
    let client = SvcCustomSubjectClient::new(connection(&server).await, "default")
        .unwrap()
        .with_timeout(Duration::from_secs(5));
    let arg = StringArg {
        arg1: format!("count:{ITEMS}"),
    };
    let mut stream = within("open", client.mt_streamed_reply(&arg))
        .await
        .unwrap();
    let mut next = 0u64;
    let mut server = Some(server);
    let ending = within("the stream ends, one way or the other", async {
        loop {
            match stream.next().await {
                None => return Ending::Complete,
                Some(Err(e)) => return Ending::Failed(e),
                Some(Ok(item)) => {
                    assert_eq!(
                        item.reply,
                        next.to_string(),
                        "an item is missing: silent loss"
                    );
                    next += 1;
                    if next == restart_after {
                        if let Some(s) = server.take() {
                            server = Some(restart(s).await);
                        }
                    }
                }
            }
        }
    })
    .await;
    drop(stream);
    handle.shutdown_timeout(Duration::from_secs(5)).await;
    (server.expect("the broker"), ending, next)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_across_a_broker_restart_completes_or_says_it_did_not() {
    let mut server = nats_server();
    for trial in 0..3 {
        let (s, ending, received) = one_trial(server, 20_000 + trial * 30_000).await;
        server = s;
        eprintln!("trial {trial}: {ending:?} after {received} items");
        match ending {
            Ending::Complete => assert_eq!(received, ITEMS, "complete means every item"),
            Ending::Failed(
                CallError::DataLoss { .. }
                | CallError::Timeout(_)
                | CallError::ConnectionLost
                | CallError::Closed,
                // Every item that arrived was the next one (checked above);
                // the end itself may be what was lost.
            ) => assert!(received <= ITEMS),
            Ending::Failed(other) => panic!("trial {trial}: untyped ending {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_stream_across_a_broker_restart_completes_or_says_it_did_not() {
    use nrpc_tests::chat::chat_server::ChatServer;
    let server = nats_server();
    let _h = serve(&server, ChatServer::new(nrpc_tests::ChatCounter)).await;
    let client = ChatClient::new(connection(&server).await).with_timeout(Duration::from_secs(5));
    let (tx, rx) = tokio::sync::mpsc::channel::<Word>(16);
    let words = tokio_stream(rx);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.collect(words).await }
    });
    for i in 0..20_000u32 {
        tx.send(Word {
            text: i.to_string(),
        })
        .await
        .unwrap();
    }
    let server = restart(server).await;
    for i in 20_000..40_000u32 {
        if tx
            .send(Word {
                text: i.to_string(),
            })
            .await
            .is_err()
        {
            break; // the call ended already
        }
    }
    drop(tx);
    let outcome = within("the call ends", call).await.unwrap();
    eprintln!("request stream across a restart: {outcome:?}");
    match outcome {
        Ok(sentence) => assert_eq!(sentence.words, 40_000, "complete means every item"),
        Err(e) => {
            let typed = matches!(
                &e,
                CallError::Status(s) if s.code() == nrpc_runtime::Code::DataLoss
            ) || matches!(
                e,
                CallError::Timeout(_) | CallError::ConnectionLost | CallError::DataLoss { .. }
            );
            assert!(typed, "untyped ending {e:?}");
        }
    }
    drop(server);
}

fn tokio_stream<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
