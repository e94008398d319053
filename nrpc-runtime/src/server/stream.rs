//! The server half of streamed replies: a [`Sink`] for the handler, the
//! keepalive ticker, and the heartbeat watcher that grants credit and
//! notices a client that has gone.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_nats::Subject;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::call::{decode_request, failed, Call, Reply, Request};
use crate::codec::Codec;
use crate::status::{NrpcErrorType, Status};
use crate::wire::stream::{self as wire_stream, HEARTBEAT_INTERVAL, INACTIVITY_TIMEOUT, KEEPALIVE};
use crate::wire::{Encoding, ErrorFrame};

/// What the receive loop prepares for a streamed call.
pub(crate) struct StreamContext {
    pub(crate) nats: async_nats::Client,
    pub(crate) reply: Subject,
    pub(crate) heartbeats: async_nats::Subscriber,
    /// The client's initial credit, if it speaks nrpc's flow control.
    pub(crate) credit: Option<u32>,
    /// For client-streaming and bidi calls: where the client's items arrive.
    pub(crate) input: Option<async_nats::Subscriber>,
}

/// Where a streaming handler sends its items.
///
/// [`send`](Sink::send) waits while the client has granted no credit (nrpc
/// clients), so a fast handler never outruns a slow client. Against a Go
/// nRPC client, which grants none, it never waits.
pub struct Sink<T> {
    nats: async_nats::Client,
    reply: Subject,
    encoding: Encoding,
    encode: fn(&T, Encoding) -> Result<Bytes, Status>,
    credit: Option<Arc<Semaphore>>,
    sent: Arc<AtomicU64>,
}

impl<T> std::fmt::Debug for Sink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("reply", &self.reply)
            .field("sent", &self.sent())
            .field("credit", &self.credit())
            .finish()
    }
}

impl<T> Sink<T> {
    /// Sends one item, waiting for credit if the client uses flow control.
    pub async fn send(&self, item: &T) -> Result<(), Status> {
        let payload = (self.encode)(item, self.encoding)?;
        let max = self.nats.max_payload();
        if max > 0 && payload.len() > max {
            return Err(Status::resource_exhausted(format!(
                "stream item of {} bytes exceeds the NATS max_payload of {max} bytes",
                payload.len()
            )));
        }
        if let Some(credit) = &self.credit {
            credit
                .acquire()
                .await
                .map_err(|_| Status::cancelled("stream closed"))?
                .forget();
        }
        self.nats
            .publish(self.reply.clone(), payload)
            .await
            .map_err(|e| Status::unavailable(format!("stream item not sent: {e}")))?;
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Items sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Items the client currently lets us send; `None` when it uses no flow
    /// control (a Go nRPC client).
    pub fn credit(&self) -> Option<usize> {
        self.credit.as_ref().map(|c| c.available_permits())
    }
}

/// Runs a streamed-reply handler (nRPC `streamedReply`, proto3
/// `returns (stream T)`): items go out through the [`Sink`], keepalives
/// every second, `EOS` with the item count at the end. Errors end the
/// stream through the usual error reply.
pub fn server_stream<Req, Resp, F, Fut>(
    call: Call,
    handler: F,
) -> BoxFuture<'static, Result<Reply, Status>>
where
    Req: Codec,
    Resp: Codec,
    F: FnOnce(Request<Req::Item>, Sink<Resp::Item>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let (request, stream) = match open::<Req>(call) {
        Ok(parts) => parts,
        Err(status) => return failed(status),
    };
    let sink = stream.sink::<Resp>();
    let sent = sink.sent.clone();
    Box::pin(stream.drive(async move {
        handler(request, sink).await?;
        Ok(sent.load(Ordering::Relaxed))
    }))
}

/// Runs a client-streaming handler (proto3 `rpc X(stream A) returns (B)`,
/// nrpc extension): the handler reads a [`Streaming`] of requests; its one
/// reply goes out as a stream of one item.
pub fn client_stream<Req, Resp, F, Fut>(
    call: Call,
    handler: F,
) -> BoxFuture<'static, Result<Reply, Status>>
where
    Req: Codec,
    Resp: Codec,
    F: FnOnce(Request<Streaming<Req::Item>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<crate::client::Response<Resp::Item>, Status>> + Send + 'static,
{
    let (request, stream) = match open_input::<Req>(call) {
        Ok(parts) => parts,
        Err(status) => return failed(status),
    };
    let sink = stream.sink::<Resp>();
    Box::pin(stream.drive(async move {
        let reply = handler(request).await?.into_inner();
        sink.send(&reply).await?;
        Ok(1)
    }))
}

/// Runs a bidirectional handler (proto3 `rpc X(stream A) returns (stream
/// B)`, nrpc extension): requests in through a [`Streaming`], replies out
/// through a [`Sink`], each direction with its own credit.
pub fn bidi_stream<Req, Resp, F, Fut>(
    call: Call,
    handler: F,
) -> BoxFuture<'static, Result<Reply, Status>>
where
    Req: Codec,
    Resp: Codec,
    F: FnOnce(Request<Streaming<Req::Item>>, Sink<Resp::Item>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let (request, stream) = match open_input::<Req>(call) {
        Ok(parts) => parts,
        Err(status) => return failed(status),
    };
    let sink = stream.sink::<Resp>();
    let sent = sink.sent.clone();
    Box::pin(stream.drive(async move {
        handler(request, sink).await?;
        Ok(sent.load(Ordering::Relaxed))
    }))
}

/// A stream being served: its context and the credit for outgoing items.
struct Open {
    ctx: StreamContext,
    encoding: Encoding,
    cancel: tokio_util::sync::CancellationToken,
    credit: Option<Arc<Semaphore>>,
}

/// Decodes the request of a streamed-reply call.
fn open<Req: Codec>(call: Call) -> Result<(Request<Req::Item>, Open), Status> {
    let encoding = call.context.encoding;
    let ctx = call
        .stream
        .ok_or_else(|| Status::invalid_argument("a streamed call needs a reply subject"))?;
    let open = Open::new(ctx, encoding, call.context.cancel.clone());
    Ok((decode_request::<Req>(call.payload, call.context)?, open))
}

/// A request stream and the stream being served.
type Accepted<T> = (Request<Streaming<T>>, Open);

/// Accepts a call whose requests stream in (client-streaming, bidi).
fn open_input<Req: Codec>(call: Call) -> Result<Accepted<Req::Item>, Status> {
    let encoding = call.context.encoding;
    let mut ctx = call
        .stream
        .ok_or_else(|| Status::invalid_argument("a streamed call needs a reply subject"))?;
    let input = ctx
        .input
        .take()
        .ok_or_else(|| Status::internal("no input subscription for a client stream"))?;
    let streaming = Streaming::new::<Req>(input, ctx.nats.clone(), ctx.reply.clone(), encoding);
    let open = Open::new(ctx, encoding, call.context.cancel.clone());
    Ok((
        Request {
            message: streaming,
            context: call.context,
        },
        open,
    ))
}

impl Open {
    fn new(
        ctx: StreamContext,
        encoding: Encoding,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Self {
        let credit = ctx.credit.map(|w| Arc::new(Semaphore::new(w as usize)));
        Self {
            ctx,
            encoding,
            cancel,
            credit,
        }
    }

    fn sink<Resp: Codec>(&self) -> Sink<Resp::Item> {
        Sink {
            nats: self.ctx.nats.clone(),
            reply: self.ctx.reply.clone(),
            encoding: self.encoding,
            encode: Resp::encode,
            credit: self.credit.clone(),
            sent: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Runs `body` (which returns the number of items it sent) beside the
    /// heartbeat watcher and the keepalive ticker, then sends `EOS`.
    async fn drive(self, body: impl Future<Output = Result<u64, Status>>) -> Result<Reply, Status> {
        let Open {
            ctx,
            encoding,
            cancel,
            credit,
        } = self;
        let StreamContext {
            nats,
            reply,
            mut heartbeats,
            ..
        } = ctx;
        let last_seen = Mutex::new(Instant::now());
        // Heartbeats: credit grants, lastbeat, and proof the client is alive.
        let watch = async {
            while let Some(hb) = heartbeats.next().await {
                *last_seen.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                let grant = hb
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(wire_stream::CREDIT))
                    .and_then(|v| v.as_str().parse::<usize>().ok());
                if let (Some(n), Some(credit)) = (grant, &credit) {
                    credit.add_permits(n.min(Semaphore::MAX_PERMITS - credit.available_permits()));
                }
                if wire_stream::is_lastbeat(encoding, &hb.payload) {
                    return Status::cancelled("stream cancelled by the client");
                }
            }
            Status::unavailable("heartbeat subscription ended")
        };
        // Keepalives out; a silent client is gone after the inactivity timeout.
        let keepalive = async {
            let mut tick =
                tokio::time::interval_at(Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
            loop {
                tick.tick().await;
                let quiet = last_seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .elapsed();
                if quiet > INACTIVITY_TIMEOUT {
                    return Status::cancelled("client stopped sending heartbeats");
                }
                let _ = nats
                    .publish(reply.clone(), Bytes::from_static(KEEPALIVE))
                    .await;
            }
        };
        let outcome = tokio::select! {
            r = body => r,
            status = watch => Err(status),
            status = keepalive => Err(status),
        };
        cancel.cancel();
        let _ = heartbeats.unsubscribe().await;
        let sent = outcome?;
        let eos = ErrorFrame {
            kind: NrpcErrorType::Eos,
            message: String::new(),
            msg_count: u32::try_from(sent).unwrap_or(u32::MAX),
        };
        nats.publish(reply, eos.encode(encoding))
            .await
            .map_err(|e| Status::unavailable(format!("end of stream not sent: {e}")))?;
        Ok(Reply::already_sent())
    }
}

/// Requests streaming in from the client (client-streaming and
/// bidirectional methods). Yields each request in order, then ends when the
/// client closes its side; a client error or a count mismatch is an `Err`
/// item. Reading grants the client credit to send more.
pub struct Streaming<T> {
    inner: futures::stream::BoxStream<'static, Result<T, Status>>,
}

impl<T> std::fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Streaming<T> {
    fn new<C: Codec<Item = T>>(
        input: async_nats::Subscriber,
        nats: async_nats::Client,
        reply: Subject,
        encoding: Encoding,
    ) -> Self {
        struct State {
            input: async_nats::Subscriber,
            nats: async_nats::Client,
            reply: Subject,
            encoding: Encoding,
            received: u32,
            since_grant: u32,
            done: bool,
        }
        let state = State {
            input,
            nats,
            reply,
            encoding,
            received: 0,
            since_grant: 0,
            done: false,
        };
        let inner = futures::stream::unfold(state, |mut s| async move {
            if s.done {
                return None;
            }
            let msg = s.input.next().await?;
            let item = match ErrorFrame::decode(s.encoding, &msg.payload) {
                Err(status) => Err(status),
                Ok(Some(frame))
                    if frame.kind == NrpcErrorType::Eos && frame.msg_count == s.received =>
                {
                    return None;
                }
                Ok(Some(frame)) if frame.kind == NrpcErrorType::Eos => {
                    Err(Status::invalid_argument(format!(
                        "client stream ended after {} items but the client sent {}",
                        s.received, frame.msg_count
                    )))
                }
                Ok(Some(frame)) => Err(frame.into_status(None)),
                Ok(None) => C::decode(msg.payload, s.encoding)
                    .map_err(|e| Status::invalid_argument(format!("bad request received: {e}"))),
            };
            if item.is_err() {
                s.done = true;
                return Some((item, s));
            }
            s.received += 1;
            s.since_grant += 1;
            if s.since_grant >= wire_stream::DEFAULT_WINDOW / 2 {
                let mut h = async_nats::HeaderMap::new();
                h.insert(wire_stream::CREDIT, s.since_grant.to_string().as_str());
                let _ = s
                    .nats
                    .publish_with_headers(s.reply.clone(), h, Bytes::from_static(KEEPALIVE))
                    .await;
                s.since_grant = 0;
            }
            Some((item, s))
        })
        .boxed();
        Self { inner }
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
