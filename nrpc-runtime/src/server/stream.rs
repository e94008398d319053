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

use super::call::{Call, Reply, Request};
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
    let encoding = call.context.encoding;
    let Some(stream) = call.stream else {
        let status = Status::invalid_argument("a streamed call needs a reply subject");
        return Box::pin(std::future::ready(Err(status)));
    };
    let message = match Req::decode(call.payload, encoding) {
        Ok(m) => m,
        Err(e) => {
            let status = Status::invalid_argument(format!("bad request received: {e}"));
            return Box::pin(std::future::ready(Err(status)));
        }
    };
    let cancel = call.context.cancel.clone();
    let request = Request {
        message,
        context: call.context,
    };
    let credit = stream.credit.map(|w| Arc::new(Semaphore::new(w as usize)));
    let sink = Sink {
        nats: stream.nats.clone(),
        reply: stream.reply.clone(),
        encoding,
        encode: Resp::encode,
        credit: credit.clone(),
        sent: Arc::new(AtomicU64::new(0)),
    };
    let sent = sink.sent.clone();
    Box::pin(async move {
        let StreamContext {
            nats,
            reply,
            mut heartbeats,
            ..
        } = stream;
        let last_seen = Mutex::new(Instant::now());
        let seen = || *last_seen.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        // Heartbeats: credit grants, lastbeat, and proof the client is alive.
        let watch = async {
            while let Some(hb) = heartbeats.next().await {
                seen();
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
            r = handler(request, sink) => r,
            status = watch => Err(status),
            status = keepalive => Err(status),
        };
        cancel.cancel();
        let _ = heartbeats.unsubscribe().await;
        outcome?;
        let eos = ErrorFrame {
            kind: NrpcErrorType::Eos,
            message: String::new(),
            msg_count: u32::try_from(sent.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
        };
        nats.publish(reply, eos.encode(encoding))
            .await
            .map_err(|e| Status::unavailable(format!("end of stream not sent: {e}")))?;
        Ok(Reply::already_sent())
    })
}
