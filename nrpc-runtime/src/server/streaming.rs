//! [`Streaming`]: the client's request items as a handler reads them. A
//! pump feeds each message on the request inbox to the stream's `Inbound`
//! machine and hands the items on in order; reading one grants the client
//! more credit.

use std::sync::{Arc, Mutex};

use async_nats::Subject;
use bytes::Bytes;
use futures::StreamExt;
use nrpc_wire::stream::{Inbound, OutFrame, Signal, StreamError, DEFAULT_WINDOW};
use nrpc_wire::{Encoding, Status};
use tokio::time::Instant;

use crate::codec::Codec;
use crate::lock;
use crate::message::{self, Headers};

/// Requests streaming in from the client (client-streaming and
/// bidirectional methods). Yields each request in order, then ends when the
/// client closes its side; a client error, a count mismatch or a client
/// that sends beyond its credit is an `Err` item. Reading grants the client
/// credit to send more, so at most one window of requests is ever buffered.
pub struct Streaming<T> {
    inner: futures::stream::BoxStream<'static, Result<T, Status>>,
    /// The task reading the client's items from NATS (none for a stream
    /// made with [`from_stream`](Streaming::from_stream)).
    pump: Option<tokio::task::AbortHandle>,
}

impl<T> std::fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming").finish_non_exhaustive()
    }
}

impl<T> Drop for Streaming<T> {
    fn drop(&mut self) {
        if let Some(pump) = &self.pump {
            pump.abort();
        }
    }
}

impl<T> Streaming<T> {
    /// Requests from any stream: for serving a handler outside NATS (the
    /// generated gRPC glue hands it the gRPC client's messages).
    pub fn from_stream(
        requests: impl futures::Stream<Item = Result<T, Status>> + Send + 'static,
    ) -> Self {
        Streaming {
            inner: requests.boxed(),
            pump: None,
        }
    }
}

/// What the pump hands the reader, in arrival order.
enum Arrival {
    Item(Bytes),
    End,
    Failed(Status),
}

/// The status a handler reads for a request stream that failed.
fn request_stream_failed(e: &StreamError) -> Status {
    match e {
        StreamError::Status(s) => s.clone(),
        e => {
            let status = e.to_status();
            Status::new(status.code(), format!("request {}", status.message()))
        }
    }
}

impl<T: Send + 'static> Streaming<T> {
    pub(super) fn new<C: Codec<Item = T>>(
        mut input: async_nats::Subscriber,
        nats: async_nats::Client,
        reply: Subject,
        encoding: Encoding,
        window: Arc<Mutex<Inbound>>,
        violation: tokio::sync::oneshot::Sender<Status>,
    ) -> Self {
        // Never more than a window of items plus the last word: the
        // inbound machine refuses items beyond the credit granted.
        let (tx, rx) = tokio::sync::mpsc::channel(DEFAULT_WINDOW as usize + 1);
        let pump_window = window.clone();
        let pump = tokio::spawn(async move {
            while let Some(msg) = input.next().await {
                let now = Instant::now().into_std();
                let (signal, items) = {
                    let mut inbound = lock(&pump_window);
                    let signal = inbound.on_message(msg.payload.clone(), &Headers::of(&msg), now);
                    let items: Vec<Bytes> = std::iter::from_fn(|| inbound.pop()).collect();
                    (signal, items)
                };
                for item in items {
                    if tx.send(Arrival::Item(item)).await.is_err() {
                        return;
                    }
                }
                let last = match signal {
                    Ok(Signal::End) => Arrival::End,
                    Ok(_) => continue,
                    Err(e) => {
                        let status = request_stream_failed(&e);
                        // Lost items or a client beyond its credit end the
                        // call at once, whatever the handler is doing; an
                        // error the client sent reaches the handler in order.
                        if matches!(e, StreamError::DataLoss(_) | StreamError::CreditExceeded(_)) {
                            let _ = violation.send(status.clone());
                        }
                        Arrival::Failed(status)
                    }
                };
                let _ = tx.send(last).await;
                break;
            }
            // Dropping the subscription unsubscribes: nothing more is buffered.
        })
        .abort_handle();
        let state = (true, rx, window, nats, reply, encoding);
        let inner = futures::stream::unfold(
            state,
            |(open, mut rx, window, nats, reply, encoding)| async move {
                if !open {
                    return None;
                }
                let item = match rx.recv().await {
                    None => Err(Status::unavailable(
                        "the request stream ended without the client's end of stream",
                    )),
                    Some(Arrival::End) => return None,
                    Some(Arrival::Failed(status)) => Err(status),
                    Some(Arrival::Item(payload)) => C::decode(payload, encoding).map_err(|e| {
                        Status::invalid_argument(format!("bad request received: {e}"))
                    }),
                };
                if item.is_err() {
                    return Some((item, (false, rx, window, nats, reply, encoding)));
                }
                let grant = lock(&window).consumed();
                if let Some(limit) = grant {
                    let frame = OutFrame::keepalive(None, Some(limit));
                    let _ = message::publish(&nats, reply.clone(), frame).await;
                }
                Some((item, (true, rx, window, nats, reply, encoding)))
            },
        )
        .boxed();
        Self {
            inner,
            pump: Some(pump),
        }
    }
}

impl<T> futures::Stream for Streaming<T> {
    type Item = Result<T, Status>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
