//! The client half of streams: the opening request and heartbeats
//! ([`begin`]), items and keepalives in with credit granted back as the
//! caller consumes (`nrpc_wire::stream::ReceiveWindow`), request items out
//! within the server's credit ([`send_requests`]), `lastbeat` on drop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::{HeaderMap, StatusCode};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use nrpc_wire::stream::{
    self as wire_stream, Frame, ReceiveWindow, DEFAULT_WINDOW, HEARTBEAT_INTERVAL, KEEPALIVE,
};
use nrpc_wire::subject::check_literal;
use nrpc_wire::{headers, Encoding, Status};
use tokio::time::Instant;

use super::router::{Connection, Replies};
use super::{CallError, Prepared};
use crate::codec::Codec;
use crate::credit::Credit;
use crate::message;
use crate::observe;
use tracing::{Instrument, Span};

/// Reply messages buffered beyond the window (keepalives, the end frame).
const SLACK: usize = 64;

/// One stream call as the client holds it.
pub(super) struct ClientStream {
    replies: Replies,
    /// For streaming requests: the credit the server granted and the task
    /// sending them.
    upload: Option<(Arc<Credit>, tokio::task::AbortHandle)>,
    nats: async_nats::Client,
    heartbeat_subject: String,
    heartbeat_task: tokio::task::AbortHandle,
    encoding: Encoding,
    inactivity: Duration,
    /// When the whole stream must have ended, if the caller said.
    overall: Option<(Instant, Duration)>,
    window: ReceiveWindow,
    /// The window's limit, which the heartbeat task re-announces.
    limit: Arc<AtomicU64>,
    done: bool,
    /// Items of a batch not read yet, with the number of the first.
    batch: std::collections::VecDeque<Bytes>,
    batch_seq: u64,
    lastbeat: Arc<Lastbeat>,
    /// The call's span, entered while waiting for the stream; it ends with
    /// the stream's outcome.
    span: Span,
    started: Instant,
}

impl Drop for ClientStream {
    fn drop(&mut self) {
        self.heartbeat_task.abort();
        if let Some((_, sender)) = &self.upload {
            sender.abort();
        }
        // Dropped mid-stream: tell the server to stop (nRPC's lastbeat),
        // unless the stream ended or was cancelled already.
        if !self.lastbeat.take() {
            return;
        }
        let lastbeat = self.lastbeat.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { lastbeat.publish().await });
        }
    }
}

/// nRPC's `lastbeat` for one stream, sent at most once: by
/// [`ReplyStream::cancel`] or by dropping the stream mid-way.
struct Lastbeat {
    nats: async_nats::Client,
    subject: String,
    payload: Bytes,
    sent: AtomicBool,
}

impl Lastbeat {
    /// Whether it is still to be sent (and from now on, it is not).
    fn take(&self) -> bool {
        !self.sent.swap(true, Ordering::AcqRel)
    }

    async fn publish(&self) {
        let _ = self
            .nats
            .publish(self.subject.clone(), self.payload.clone())
            .await;
    }
}

/// The replies of a stream call, in order; `None` after the last one
/// means the stream is complete. Dropping it cancels the call (from a
/// background task); [`cancel`](Self::cancel) does it now and waits until
/// the cancellation has left for the broker, for programs about to exit.
pub struct ReplyStream<T> {
    items: BoxStream<'static, Result<T, CallError>>,
    lastbeat: Arc<Lastbeat>,
}

impl<T> ReplyStream<T> {
    /// Cancels the call: tells the server to stop (its handler's
    /// cancellation token fires) and flushes the connection, so the
    /// message is on its way when this returns. Nothing is sent for a
    /// stream that has ended.
    pub async fn cancel(self) {
        if self.lastbeat.take() {
            self.lastbeat.publish().await;
            let _ = self.lastbeat.nats.flush().await;
        }
    }
}

impl<T> std::fmt::Debug for ReplyStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyStream")
            .field("subject", &self.lastbeat.subject)
            .finish_non_exhaustive()
    }
}

impl<T> futures::Stream for ReplyStream<T> {
    type Item = Result<T, CallError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.items.poll_next_unpin(cx)
    }
}

/// Publishes the opening request of a stream (announcing the client's
/// window) and starts heartbeats.
pub(super) async fn begin(conn: &Connection, p: Prepared) -> Result<ClientStream, CallError> {
    let window = ReceiveWindow::new(DEFAULT_WINDOW);
    let Prepared {
        mut out,
        encoding,
        stream_deadline,
        span,
    } = p;
    let started = Instant::now();
    // Keepalives come every second: a shorter silence is no sign of death.
    let inactivity = wire_stream::inactivity(out.deadline.timeout);
    let overall = stream_deadline.map(|d| (Instant::now() + d, d));
    let h = out.headers.get_or_insert_with(HeaderMap::new);
    h.insert(headers::STREAM_CREDIT, window.window().to_string().as_str());
    h.insert(headers::STREAM_BATCH, "1");
    let capacity = window.window() as usize + SLACK;
    let replies = conn
        .request_many(out, capacity)
        .instrument(span.clone())
        .await?;
    let nats = conn.nats().clone();
    let heartbeat_subject = wire_stream::heartbeat_subject(&replies.subject);
    let lastbeat = Arc::new(Lastbeat {
        nats: nats.clone(),
        subject: heartbeat_subject.clone(),
        payload: wire_stream::encode_heartbeat(encoding, true),
        sent: AtomicBool::new(false),
    });
    let limit = Arc::new(AtomicU64::new(window.limit()));
    // Heartbeats: alive, and our credit limit again (a lost grant is
    // repaired by the next heartbeat).
    let heartbeat_task = {
        let (nats, subject, limit) = (nats.clone(), heartbeat_subject.clone(), limit.clone());
        let payload = wire_stream::encode_heartbeat(encoding, false);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
            loop {
                tick.tick().await;
                let mut h = HeaderMap::new();
                let current = limit.load(Ordering::Relaxed);
                h.insert(headers::CREDIT_LIMIT, current.to_string().as_str());
                if nats
                    .publish_with_headers(subject.clone(), h, payload.clone())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        })
        .abort_handle()
    };
    Ok(ClientStream {
        replies,
        upload: None,
        nats,
        heartbeat_subject,
        heartbeat_task,
        encoding,
        inactivity,
        overall,
        window,
        limit,
        done: false,
        batch: Default::default(),
        batch_seq: 0,
        lastbeat,
        span,
        started,
    })
}

impl ClientStream {
    /// Waits for the server to accept a request stream (a keepalive naming
    /// its stream inbox and granting credit), then starts sending
    /// `requests` there.
    pub(super) async fn upload<Req: Codec>(
        &mut self,
        requests: BoxStream<'static, Req::Item>,
    ) -> Result<(), CallError> {
        let result = self.accepted().await;
        let (inbox, credit, batches) = match result {
            Ok(accepted) => accepted,
            Err(e) => {
                self.finish();
                return Err(e);
            }
        };
        let credit = Arc::new(Credit::new(Some(credit)));
        let sender = tokio::spawn(send_requests::<Req>(
            requests,
            self.nats.clone(),
            inbox,
            self.encoding,
            credit.clone(),
            batches,
        ))
        .abort_handle();
        self.upload = Some((credit, sender));
        Ok(())
    }

    /// The server's accept: its inbox for our items, its credit, and
    /// whether it reads batches.
    async fn accepted(&mut self) -> Result<(String, u64, bool), CallError> {
        let accept = match tokio::time::timeout(self.inactivity, self.replies.rx.recv()).await {
            Err(_) => return Err(CallError::Timeout(self.inactivity)),
            Ok(None) => return Err(CallError::Closed),
            Ok(Some(msg)) => msg,
        };
        if accept.status == Some(StatusCode::NO_RESPONDERS) {
            return Err(CallError::NoResponders {
                subject: accept.subject.to_string(),
            });
        }
        let code = message::code(&accept);
        match Frame::classify(self.encoding, &accept.payload, code.is_some()) {
            Err(e) => return Err(CallError::Decode(e.to_string())),
            Ok(Frame::Keepalive) => {}
            Ok(Frame::Error(frame)) => return Err(CallError::Status(frame.into_status(code))),
            Ok(Frame::Item | Frame::End { .. }) => {}
        }
        match (
            message::header(&accept, headers::STREAM_INBOX).map(str::to_owned),
            message::count(&accept, headers::CREDIT_LIMIT),
        ) {
            // Items go where the server says: only to one plain subject.
            (Some(inbox), Some(_)) if check_literal(&inbox, false).is_err() => {
                Err(CallError::Decode(format!(
                    "the server named an invalid stream inbox {inbox:?}"
                )))
            }
            (Some(inbox), Some(credit)) => Ok((
                inbox,
                credit,
                message::header(&accept, headers::STREAM_BATCH).is_some(),
            )),
            _ => Err(CallError::Decode(
                "the server did not accept a request stream (no Nrpc-Stream-Inbox)".into(),
            )),
        }
    }

    /// The next item, or the end of the stream.
    async fn next<T: Codec>(&mut self) -> Option<Result<T::Item, CallError>> {
        if self.done {
            return None;
        }
        let span = self.span.clone();
        let result = self.receive::<T>().instrument(span).await;
        if !matches!(result, Some(Ok(_))) {
            self.finish();
            let code = match &result {
                Some(Err(e)) => Some(e.code()),
                _ => None,
            };
            observe::record(&self.span, code, self.started);
        }
        result
    }

    async fn receive<T: Codec>(&mut self) -> Option<Result<T::Item, CallError>> {
        loop {
            if let Some(payload) = self.batch.pop_front() {
                let seq = self.batch_seq;
                self.batch_seq += 1;
                return Some(self.item::<T>(Some(seq), payload).await);
            }
            let quiet = Instant::now() + self.inactivity;
            let (until, timeout) = match self.overall {
                Some((at, whole)) if at < quiet => (at, whole),
                _ => (quiet, self.inactivity),
            };
            let msg = match tokio::time::timeout_at(until, self.replies.rx.recv()).await {
                Err(_) => return Some(Err(CallError::Timeout(timeout))),
                Ok(None) if self.replies.overrun.load(Ordering::Relaxed) => {
                    return Some(Err(CallError::Overrun))
                }
                Ok(None) => return Some(Err(CallError::Closed)),
                Ok(Some(msg)) => msg,
            };
            if msg.status == Some(StatusCode::NO_RESPONDERS) {
                return Some(Err(CallError::NoResponders {
                    subject: msg.subject.to_string(),
                }));
            }
            let code = message::code(&msg);
            match Frame::classify(self.encoding, &msg.payload, code.is_some()) {
                Err(e) => return Some(Err(CallError::Decode(e.to_string()))),
                Ok(Frame::Keepalive) => {
                    // Items the server sent before this keepalive must all
                    // be here (nrpc servers say how many; Go's do not).
                    if let Some(sent) = message::count(&msg, headers::SENT) {
                        if let Err(e) = self.window.on_progress(sent) {
                            return Some(Err(CallError::DataLoss {
                                arrived: e.arrived,
                                sent: e.sent,
                            }));
                        }
                    }
                    // Keepalives carry the server's credit for our requests.
                    if let (Some(limit), Some((credit, _))) =
                        (message::count(&msg, headers::CREDIT_LIMIT), &self.upload)
                    {
                        credit.set_limit(limit);
                    }
                }
                Ok(Frame::End { count }) => {
                    return match self.window.on_end(count) {
                        Ok(()) => None,
                        Err(e) => Some(Err(CallError::Decode(format!("server {e}")))),
                    };
                }
                Ok(Frame::Error(frame)) => {
                    return Some(Err(CallError::Status(frame.into_status(code))));
                }
                Ok(Frame::Item) => {
                    // nrpc servers number their items (a gap shows at once)
                    // and may batch them.
                    match wire_stream::split_batch(msg.payload.clone()) {
                        Err(e) => return Some(Err(CallError::Decode(e.to_string()))),
                        Ok(Some((first, items))) => {
                            self.batch = items.into();
                            self.batch_seq = first;
                            continue;
                        }
                        Ok(None) => {}
                    }
                    let (seq, payload) = match wire_stream::split_numbered(msg.payload) {
                        Ok(split) => split,
                        Err(e) => return Some(Err(CallError::Decode(e.to_string()))),
                    };
                    return Some(self.item::<T>(seq, payload).await);
                }
            }
        }
    }

    /// One item arrived (number `seq`, if the server numbers them).
    async fn item<T: Codec>(
        &mut self,
        seq: Option<u64>,
        payload: Bytes,
    ) -> Result<T::Item, CallError> {
        // Counted, not enforced: a Go server sends without credit, and the
        // router bounds what can pile up.
        let _ = self.window.on_arrival();
        if let Some(Err(e)) = seq.map(|seq| self.window.on_sequence(seq)) {
            return Err(CallError::DataLoss {
                arrived: e.arrived,
                sent: e.sent,
            });
        }
        let item = T::decode(payload, self.encoding).map_err(CallError::Decode)?;
        if let Some(limit) = self.window.on_item() {
            self.grant(limit).await;
        }
        Ok(item)
    }

    /// Announces our new credit limit at once (the heartbeat task repeats
    /// it every second).
    async fn grant(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
        let mut h = HeaderMap::new();
        h.insert(headers::CREDIT_LIMIT, limit.to_string().as_str());
        let payload = wire_stream::encode_heartbeat(self.encoding, false);
        let _ = self
            .nats
            .publish_with_headers(self.heartbeat_subject.clone(), h, payload)
            .await;
    }

    /// The stream is over (ended, failed): nothing more to receive, no
    /// lastbeat to send.
    fn finish(&mut self) {
        self.done = true;
        self.lastbeat.sent.store(true, Ordering::Release);
    }

    /// The items as a stream; ends after the end frame or the first error.
    pub(super) fn into_stream<T: Codec>(self) -> ReplyStream<T::Item> {
        let lastbeat = self.lastbeat.clone();
        let items = futures::stream::unfold(self, |mut s| async move {
            let item = s.next::<T>().await?;
            Some((item, s))
        })
        .boxed();
        ReplyStream { items, lastbeat }
    }
}

/// Sends streaming requests within the server's credit, then `EOS` with
/// the count (or an error frame if an item cannot be sent). Every second a
/// keepalive on the same subject says how many items were sent, so the
/// server notices lost items at once.
async fn send_requests<Req: Codec>(
    mut requests: BoxStream<'static, Req::Item>,
    nats: async_nats::Client,
    inbox: String,
    encoding: Encoding,
    credit: Arc<Credit>,
    batches: bool,
) {
    let inbox = async_nats::Subject::from(inbox);
    let max = nats.max_payload().min(wire_stream::MAX_BATCH_BYTES);
    let mut tick =
        tokio::time::interval_at(Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
    let progress = |nats: async_nats::Client, inbox: async_nats::Subject, sent: u64| async move {
        let mut h = HeaderMap::new();
        h.insert(headers::SENT, sent.to_string().as_str());
        let _ = nats
            .publish_with_headers(inbox, h, Bytes::from_static(KEEPALIVE))
            .await;
    };
    let encode = |item: Req::Item| -> Result<Bytes, nrpc_wire::ErrorFrame> {
        let payload =
            Req::encode(&item, encoding).map_err(|s| nrpc_wire::ErrorFrame::from_status(&s))?;
        crate::limits::check(&nats, None, payload.len()).map_err(|e| {
            nrpc_wire::ErrorFrame::from_status(&Status::resource_exhausted(format!(
                "request item of {} bytes exceeds the NATS max_payload of {} bytes",
                e.size, e.max
            )))
        })?;
        Ok(payload)
    };
    // Taken from the stream but not sent with the last batch.
    enum Carried {
        Item(Bytes),
        End,
    }
    let mut carried = None;
    let end = loop {
        let payload = match carried.take() {
            Some(Carried::Item(p)) => p,
            Some(Carried::End) => break credit.end(),
            None => {
                let item = tokio::select! {
                    item = requests.next() => item,
                    _ = tick.tick() => {
                        progress(nats.clone(), inbox.clone(), credit.sent()).await;
                        continue;
                    }
                };
                let Some(item) = item else {
                    break credit.end();
                };
                match encode(item) {
                    Ok(p) => p,
                    Err(frame) => break frame,
                }
            }
        };
        // Waiting for credit, go on reporting progress.
        loop {
            tokio::select! {
                () = credit.acquire() => break,
                _ = tick.tick() => progress(nats.clone(), inbox.clone(), credit.sent()).await,
            }
        }
        // Items ready now go along, within credit and the batch size.
        let mut batch = vec![payload];
        let cost = |p: &Bytes| p.len() + wire_stream::batch_overhead(p.len());
        // The batch's first byte and number, then its items.
        let mut size = 1 + 10 + cost(&batch[0]);
        let mut failed = None;
        while batches && size < max {
            let Some(next) = requests.next().now_or_never() else {
                break;
            };
            let Some(next) = next else {
                carried = Some(Carried::End);
                break;
            };
            match encode(next) {
                Err(frame) => {
                    failed = Some(frame);
                    break;
                }
                Ok(p) if size + cost(&p) > max || !credit.try_acquire() => {
                    // Next time: it still needs room, or credit.
                    carried = Some(Carried::Item(p));
                    break;
                }
                Ok(p) => {
                    size += cost(&p);
                    batch.push(p);
                }
            }
        }
        let first = credit.sent() + 1;
        let message = match batch.len() {
            1 => wire_stream::number_item(first, &batch[0]),
            _ => wire_stream::encode_batch(first, &batch),
        };
        if nats.publish(inbox.clone(), message).await.is_err() {
            return;
        }
        credit.on_sent(batch.len() as u64);
        if let Some(frame) = failed {
            break frame;
        }
    };
    let _ = nats.publish(inbox, end.encode(encoding)).await;
}
