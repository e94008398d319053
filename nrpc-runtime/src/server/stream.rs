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
    self as wire_stream, Framing, Heartbeat, Inbound, Liveness, Opening, OutFrame, Role,
    DEFAULT_WINDOW, HEARTBEAT_INTERVAL, INACTIVITY_TIMEOUT,
};
use nrpc_wire::{Encoding, MethodKind, Status};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::call::{decode_request, failed, Call, Outcome, Reply, Request, StreamContext};
use super::sink::{publish_items, Outbox, Sink, SinkTo};
use super::streaming::Streaming;
use crate::codec::Codec;
use crate::credit::Credit;
use crate::lock;
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
        opening: Opening::read(&Headers(Some(metadata))),
        input,
    })
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
    framing: Framing,
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
            credit: Arc::new(Credit::new(ctx.opening.credit.map(u64::from))),
            violation: None,
            input: None,
            framing: ctx.opening.framing,
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
            self.framing,
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
