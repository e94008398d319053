//! [`Sink`]: where a streaming handler's items go — queued in order
//! (the outbox), published by the stream's sender task within the client's
//! credit, one per message or in batches.

use std::sync::{Arc, Mutex};

use async_nats::Subject;
use bytes::Bytes;
use nrpc_wire::stream::{self as wire_stream, Framing, DEFAULT_WINDOW};
use nrpc_wire::{Encoding, Status};

use crate::credit::Credit;

/// Where a streaming handler sends its items.
///
/// [`send`](Sink::send) waits while the client has granted no credit (nrpc
/// clients), so a fast handler never outruns a slow client. Against a Go
/// nRPC client, which grants none, it waits only while
/// [`DEFAULT_WINDOW`] items are queued. Items are queued in order and
/// published by the stream's sender task; while it publishes, items sent
/// meanwhile gather into the next message: one message per item for a
/// handler that sends now and then, batches of many (for clients that read
/// them) for one that sends as fast as it can.
pub struct Sink<T> {
    pub(super) to: SinkTo<T>,
}

/// Where a [`Sink`]'s items go.
pub(super) enum SinkTo<T> {
    /// To the caller over NATS, within its credit.
    Nats {
        encoding: Encoding,
        encode: fn(&T, Encoding) -> Result<Bytes, Status>,
        nats: async_nats::Client,
        credit: Arc<Credit>,
        outbox: Arc<Outbox>,
    },
    /// To a channel in this process (the same handler served over gRPC):
    /// a full channel makes `send` wait.
    Local {
        items: tokio::sync::mpsc::Sender<T>,
        copy: fn(&T) -> T,
        sent: std::sync::atomic::AtomicU64,
    },
}

impl<T> std::fmt::Debug for Sink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("sent", &self.sent())
            .field("credit", &self.credit())
            .finish()
    }
}

impl<T> Sink<T> {
    /// Sends one item, waiting for credit if the client uses flow control.
    /// An `Err` means the stream can take no more items (it ended, or
    /// publishing failed).
    pub async fn send(&self, item: &T) -> Result<(), Status> {
        match &self.to {
            SinkTo::Nats {
                encoding,
                encode,
                nats,
                credit,
                outbox,
            } => {
                let payload = encode(item, *encoding)?;
                crate::limits::check(nats, None, payload.len()).map_err(|e| {
                    Status::resource_exhausted(format!(
                        "stream item of {} bytes exceeds the NATS max_payload of {} bytes",
                        e.size, e.max
                    ))
                })?;
                credit.acquire().await;
                outbox.push(payload).await
            }
            SinkTo::Local { items, copy, sent } => {
                items
                    .send(copy(item))
                    .await
                    .map_err(|_| Status::unavailable("the stream has ended"))?;
                sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Items [`send`](Self::send) took so far (queued or published).
    pub fn sent(&self) -> u64 {
        match &self.to {
            SinkTo::Nats { credit, .. } => credit.reserved(),
            SinkTo::Local { sent, .. } => sent.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Items the client currently lets us send; `None` when it uses no flow
    /// control (a Go nRPC client).
    pub fn credit(&self) -> Option<u64> {
        match &self.to {
            SinkTo::Nats { credit, .. } => credit.available(),
            SinkTo::Local { items, .. } => Some(items.capacity() as u64),
        }
    }
}

impl<T: Clone> Sink<T> {
    /// A sink whose items go to the returned channel, in order, at most
    /// `capacity` waiting: for serving a handler outside NATS (the
    /// generated gRPC glue). Once the receiver is dropped, `send` fails.
    pub fn channel(capacity: usize) -> (Sink<T>, tokio::sync::mpsc::Receiver<T>) {
        let (items, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        let sink = Sink {
            to: SinkTo::Local {
                items,
                copy: T::clone,
                sent: std::sync::atomic::AtomicU64::new(0),
            },
        };
        (sink, rx)
    }
}

/// Items sent and not yet published, in order.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    state: Mutex<OutboxState>,
    /// Items arrived, or the outbox closed: the sender task looks.
    ready: tokio::sync::Notify,
    /// The sender task took the items: there is room again.
    room: tokio::sync::Notify,
}

#[derive(Debug, Default)]
pub(super) struct OutboxState {
    items: Vec<Bytes>,
    /// The stream is over: no more items.
    closed: bool,
    /// Publishing failed: the stream is broken.
    pub(super) failed: Option<String>,
}

impl Outbox {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues an item, waiting while [`DEFAULT_WINDOW`] are queued.
    async fn push(&self, item: Bytes) -> Result<(), Status> {
        let mut item = Some(item);
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut state = self.lock();
                if let Some(e) = &state.failed {
                    return Err(Status::unavailable(format!("stream item not sent: {e}")));
                }
                if state.closed {
                    return Err(Status::unavailable("the stream has ended"));
                }
                if state.items.len() < DEFAULT_WINDOW as usize {
                    state.items.extend(item.take());
                    drop(state);
                    self.ready.notify_one();
                    return Ok(());
                }
            }
            room.await;
        }
    }

    /// No more items: the sender task publishes what is queued and ends.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }
}

/// The stream's sender task: publishes queued items in order, counting
/// each as sent, until the outbox is closed and empty or publishing fails.
pub(super) async fn publish_items(
    outbox: Arc<Outbox>,
    nats: async_nats::Client,
    reply: Subject,
    credit: Arc<Credit>,
    framing: Framing,
) {
    let max = nats.max_payload().min(wire_stream::MAX_BATCH_BYTES);
    loop {
        let ready = outbox.ready.notified();
        tokio::pin!(ready);
        ready.as_mut().enable();
        let (items, closed) = {
            let mut state = outbox.lock();
            (std::mem::take(&mut state.items), state.closed)
        };
        if items.is_empty() {
            if closed {
                return;
            }
            ready.await;
            // Let a handler that is sending fast queue more first: one
            // turn of the scheduler, so an item sent alone still leaves at
            // once.
            tokio::task::yield_now().await;
            continue;
        }
        outbox.room.notify_waiters();
        let mut rest = &items[..];
        while !rest.is_empty() {
            let seq = credit.sent() + 1;
            let n = match framing {
                Framing::Batched => batch_len(rest, max),
                _ => 1,
            };
            let payload = match (framing, n) {
                (Framing::Plain, _) => rest[0].clone(),
                (_, 1) => wire_stream::number_item(seq, &rest[0]),
                _ => wire_stream::encode_batch(seq, &rest[..n]),
            };
            if let Err(e) = nats.publish(reply.clone(), payload).await {
                outbox.lock().failed = Some(e.to_string());
                outbox.room.notify_waiters();
                return;
            }
            credit.on_sent(n as u64);
            rest = &rest[n..];
        }
    }
}

/// How many of `items` (at least one) fit in a batch of `max` bytes.
fn batch_len(items: &[Bytes], max: usize) -> usize {
    let mut size = 1 + 10;
    let mut n = 0;
    for item in items {
        size += item.len() + wire_stream::batch_overhead(item.len());
        if n > 0 && size > max {
            break;
        }
        n += 1;
    }
    n
}
