//! The server half of streams: [`accept`] subscribes what a stream call
//! needs; the handler functions per stream kind run the handler beside the
//! heartbeat watcher and the keepalive ticker; [`Sink`] sends items within
//! the client's credit and [`Streaming`] reads the client's items, granting
//! credit back. Every decision is made by `nrpc_wire::stream`.

use std::future::Future;
use std::sync::{Arc, Mutex};

use async_nats::{HeaderMap, Subject};
use bytes::Bytes;
use futures::StreamExt;
use nrpc_wire::stream::{
    self as wire_stream, Heartbeat, Inbound, Liveness, OutFrame, Role, Signal, StreamError,
    DEFAULT_WINDOW, HEARTBEAT_INTERVAL, INACTIVITY_TIMEOUT,
};
use nrpc_wire::{headers, Encoding, MethodKind, Status};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::call::{decode_request, failed, Call, Outcome, Reply, Request, StreamContext};
use crate::codec::Codec;
use crate::credit::Credit;
use crate::message::{self, Headers};
use crate::Response;

/// Subscribes what a stream call needs (its heartbeats, and for request
/// streams an inbox for the client's items) and, for request streams,
/// accepts the call with a keepalive naming that inbox and granting the
/// first window.
pub(super) async fn accept(
    nats: &async_nats::Client,
    reply: &Subject,
    kind: MethodKind,
    metadata: &HeaderMap,
) -> Result<StreamContext, Status> {
    let unavailable =
        |e: async_nats::SubscribeError| Status::unavailable(format!("cannot open the stream: {e}"));
    let heartbeats = nats
        .subscribe(wire_stream::heartbeat_subject(reply))
        .await
        .map_err(unavailable)?;
    let input = if kind.streams_requests() {
        let inbox = nats.new_inbox();
        let input = nats.subscribe(inbox.clone()).await.map_err(unavailable)?;
        let accept = OutFrame::accept(&inbox, u64::from(DEFAULT_WINDOW));
        message::publish(nats, reply.clone(), accept)
            .await
            .map_err(|e| Status::unavailable(format!("cannot accept the stream: {e}")))?;
        Some(input)
    } else {
        None
    };
    Ok(StreamContext {
        nats: nats.clone(),
        reply: reply.clone(),
        heartbeats,
        credit: message::get(metadata, headers::STREAM_CREDIT).and_then(headers::parse_credit),
        batches: message::get(metadata, headers::STREAM_BATCH).is_some(),
        input,
    })
}

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
    to: SinkTo<T>,
}

/// Where a [`Sink`]'s items go.
enum SinkTo<T> {
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
struct Outbox {
    state: Mutex<OutboxState>,
    /// Items arrived, or the outbox closed: the sender task looks.
    ready: tokio::sync::Notify,
    /// The sender task took the items: there is room again.
    room: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct OutboxState {
    items: Vec<Bytes>,
    /// The stream is over: no more items.
    closed: bool,
    /// Publishing failed: the stream is broken.
    failed: Option<String>,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
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
    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }
}

/// How the client wants its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// As they are (a Go nRPC client).
    Plain,
    /// Numbered, one per message (an nrpc client).
    Numbered,
    /// Numbered, several per message where they queue up (an nrpc client
    /// that asked for batches).
    Batched,
}

/// The stream's sender task: publishes queued items in order, counting
/// each as sent, until the outbox is closed and empty or publishing fails.
async fn publish_items(
    outbox: Arc<Outbox>,
    nats: async_nats::Client,
    reply: Subject,
    credit: Arc<Credit>,
    delivery: Delivery,
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
            let n = match delivery {
                Delivery::Batched => batch_len(rest, max),
                _ => 1,
            };
            let payload = match (delivery, n) {
                (Delivery::Plain, _) => rest[0].clone(),
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

/// Runs a streamed-reply handler (nRPC `streamedReply`, proto3
/// `returns (stream T)`): items go out through the [`Sink`], keepalives
/// every second, `EOS` with the item count at the end. Errors end the
/// stream through the usual error reply.
pub fn server_stream<Req, Resp, F, Fut>(call: Call, handler: F) -> Outcome
where
    Req: Codec,
    Resp: Codec,
    F: FnOnce(Request<Req::Item>, Sink<Resp::Item>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let (mut open, call) = match Open::new(call) {
        Ok(parts) => parts,
        Err(status) => return failed(status),
    };
    let request = match decode_request::<Req>(call.payload, call.context) {
        Ok(r) => r,
        Err(status) => return failed(status),
    };
    let sink = open.sink::<Resp>();
    Box::pin(open.drive(handler(request, sink)))
}

/// Runs a client-streaming handler (proto3 `rpc X(stream A) returns (B)`,
/// nrpc extension): the handler reads a [`Streaming`] of requests; its one
/// reply goes out as a stream of one item.
pub fn client_stream<Req, Resp, F, Fut>(call: Call, handler: F) -> Outcome
where
    Req: Codec,
    Resp: Codec,
    F: FnOnce(Request<Streaming<Req::Item>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Resp::Item>, Status>> + Send + 'static,
{
    let (mut open, request) = match Open::with_requests::<Req>(call) {
        Ok(parts) => parts,
        Err(status) => return failed(status),
    };
    let sink = open.sink::<Resp>();
    Box::pin(open.drive(async move {
        let reply = handler(request).await?.into_inner();
        sink.send(&reply).await
    }))
}

/// Runs a bidirectional handler (proto3 `rpc X(stream A) returns (stream
/// B)`, nrpc extension): requests in through a [`Streaming`], replies out
/// through a [`Sink`], each direction with its own credit.
pub fn bidi_stream<Req, Resp, F, Fut>(call: Call, handler: F) -> Outcome
where
    Req: Codec,
    Resp: Codec,
    F: FnOnce(Request<Streaming<Req::Item>>, Sink<Resp::Item>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let (mut open, request) = match Open::with_requests::<Req>(call) {
        Ok(parts) => parts,
        Err(status) => return failed(status),
    };
    let sink = open.sink::<Resp>();
    Box::pin(open.drive(handler(request, sink)))
}

/// A stream being served: where items go, the credit for them, and what
/// tells us the client is alive.
struct Open {
    nats: async_nats::Client,
    reply: Subject,
    heartbeats: async_nats::Subscriber,
    encoding: Encoding,
    cancel: CancellationToken,
    credit: Arc<Credit>,
    /// For request streams: fires if the client breaks the protocol or its
    /// items were lost, which ends the call at once.
    violation: Option<tokio::sync::oneshot::Receiver<Status>>,
    /// For request streams: the window whose limit every keepalive
    /// re-announces.
    input: Option<Arc<Mutex<Inbound>>>,
    /// How the client wants its items.
    delivery: Delivery,
    /// The items the handler sent, and the task publishing them.
    outbox: Arc<Outbox>,
    publisher: Option<tokio::task::JoinHandle<()>>,
}

/// A stream being served, and the handler's request stream.
type Accepted<T> = (Open, Request<Streaming<T>>);

/// The parts of a call an [`Open`] does not take.
struct Rest {
    payload: Bytes,
    context: super::call::Context,
    input: Option<async_nats::Subscriber>,
}

impl Open {
    fn new(call: Call) -> Result<(Self, Rest), Status> {
        let ctx = call
            .stream
            .ok_or_else(|| Status::invalid_argument("a stream call needs a reply subject"))?;
        let open = Self {
            nats: ctx.nats,
            reply: ctx.reply,
            heartbeats: ctx.heartbeats,
            encoding: call.context.encoding,
            cancel: call.context.cancel.clone(),
            credit: Arc::new(Credit::new(ctx.credit.map(u64::from))),
            violation: None,
            input: None,
            delivery: match (ctx.credit.is_some(), ctx.batches) {
                (false, _) => Delivery::Plain,
                (true, false) => Delivery::Numbered,
                (true, true) => Delivery::Batched,
            },
            outbox: Arc::default(),
            publisher: None,
        };
        let rest = Rest {
            payload: call.payload,
            context: call.context,
            input: ctx.input,
        };
        Ok((open, rest))
    }

    /// Opens a call whose requests stream in (client-streaming, bidi).
    fn with_requests<Req: Codec>(call: Call) -> Result<Accepted<Req::Item>, Status> {
        let (mut open, rest) = Self::new(call)?;
        let input = rest
            .input
            .ok_or_else(|| Status::internal("no input subscription for a request stream"))?;
        let (violation, violated) = tokio::sync::oneshot::channel();
        open.violation = Some(violated);
        let now = Instant::now().into_std();
        let inbound = Inbound::new(
            Role::Server,
            open.encoding,
            DEFAULT_WINDOW,
            INACTIVITY_TIMEOUT,
            now,
        );
        let window = Arc::new(Mutex::new(inbound));
        open.input = Some(window.clone());
        let streaming = Streaming::new::<Req>(
            input,
            open.nats.clone(),
            open.reply.clone(),
            open.encoding,
            window,
            violation,
        );
        let request = Request {
            message: streaming,
            context: rest.context,
        };
        Ok((open, request))
    }

    /// The handler's sink, and the task that publishes what it sends.
    fn sink<Resp: Codec>(&mut self) -> Sink<Resp::Item> {
        self.publisher = Some(tokio::spawn(publish_items(
            self.outbox.clone(),
            self.nats.clone(),
            self.reply.clone(),
            self.credit.clone(),
            self.delivery,
        )));
        Sink {
            to: SinkTo::Nats {
                encoding: self.encoding,
                encode: Resp::encode,
                nats: self.nats.clone(),
                credit: self.credit.clone(),
                outbox: self.outbox.clone(),
            },
        }
    }

    /// Runs `body` beside the heartbeat watcher and the keepalive ticker,
    /// then sends `EOS` with the count of items sent.
    async fn drive(self, body: impl Future<Output = Result<(), Status>>) -> Result<Reply, Status> {
        let Open {
            nats,
            reply,
            mut heartbeats,
            encoding,
            cancel,
            credit,
            violation,
            input,
            outbox,
            publisher,
            ..
        } = self;
        // However this ends, the sender task stops with it.
        let publisher = publisher.map(|task| AbortOnDrop(Some(task)));
        // A client breaking the protocol ends the call whatever the handler
        // is doing.
        let violation = async {
            match violation {
                Some(rx) => match rx.await {
                    Ok(status) => status,
                    Err(_) => std::future::pending().await,
                },
                None => std::future::pending().await,
            }
        };
        let liveness = Mutex::new(Liveness::new(Instant::now().into_std(), INACTIVITY_TIMEOUT));
        // Heartbeats: credit grants, lastbeat, and proof the client is alive.
        let watch = async {
            while let Some(hb) = heartbeats.next().await {
                lock(&liveness).heard(Instant::now().into_std());
                let beat = Heartbeat::read(encoding, &hb.payload, &Headers::of(&hb));
                if let Some(limit) = beat.credit_limit {
                    credit.set_limit(limit);
                }
                if beat.lastbeat {
                    return Status::cancelled("stream cancelled by the client");
                }
            }
            Status::unavailable("heartbeat subscription ended")
        };
        // Keepalives out, saying how many items were sent (and, for request
        // streams, re-announcing our limit); a silent client is gone after
        // the inactivity timeout.
        let keepalive = async {
            let mut tick =
                tokio::time::interval_at(Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
            loop {
                tick.tick().await;
                if lock(&liveness).check(Instant::now().into_std()).is_err() {
                    return Status::cancelled("client stopped sending heartbeats");
                }
                let limit = input.as_ref().map(|window| lock(window).limit());
                let _ = message::publish(
                    &nats,
                    reply.clone(),
                    OutFrame::keepalive(Some(credit.sent()), limit),
                )
                .await;
            }
        };
        // Whether the handler ended it (its items then go out first).
        let (outcome, by_handler) = tokio::select! {
            r = body => (r, true),
            status = watch => (Err(status), false),
            status = keepalive => (Err(status), false),
            status = violation => (Err(status), false),
        };
        // What the handler sent goes out before its end (or its error).
        outbox.close();
        if let (true, Some(mut task)) = (by_handler, publisher) {
            if let Some(task) = task.0.take() {
                let _ = task.await;
            }
        }
        cancel.cancel();
        let _ = heartbeats.unsubscribe().await;
        outcome?;
        if let Some(e) = &outbox.lock().failed {
            return Err(Status::unavailable(format!("stream item not sent: {e}")));
        }
        message::publish(&nats, reply, OutFrame::end(encoding, credit.sent()))
            .await
            .map_err(|e| Status::unavailable(format!("end of stream not sent: {e}")))?;
        Ok(Reply::already_sent())
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
    fn new<C: Codec<Item = T>>(
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
