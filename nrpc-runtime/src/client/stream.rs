//! The client half of streams, as I/O around `nrpc_wire::stream`: the
//! opening request and heartbeats ([`begin`]), the server's messages fed to
//! an `Inbound` machine (which decides what each means) with credit
//! granted back as the caller consumes, request items out within the
//! server's credit ([`send_requests`]), and the cancellation (`lastbeat`)
//! when the caller drops the stream or it fails on our side.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::{HeaderMap, StatusCode, Subject};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use nrpc_wire::stream::{
    self as wire_stream, Inbound, OutFrame, Role, Signal, StreamError, DEFAULT_WINDOW,
    HEARTBEAT_INTERVAL,
};
use nrpc_wire::{Encoding, Status};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::error::CallError;
use super::prepared::Prepared;
use super::router::{Connection, Replies};
use crate::codec::{Codec, DecodeError};
use crate::credit::Credit;
use crate::message::{self, Headers};
use crate::observe;
use tracing::{Instrument, Span};

/// Reply messages buffered beyond the window (keepalives, the end frame).
const SLACK: usize = 64;

/// One stream call as the client holds it.
pub(super) struct ClientStream {
    replies: Replies,
    /// For streaming requests: the credit the server granted, the task
    /// sending them, and how it failed if it did.
    upload: Option<Upload>,
    nats: async_nats::Client,
    heartbeat_subject: Subject,
    heartbeat_task: tokio::task::AbortHandle,
    encoding: Encoding,
    inbound: Inbound,
    /// When the whole stream must have ended, if the caller said.
    overall: Option<(Instant, Duration)>,
    /// The inbound limit, which the heartbeat task re-announces.
    limit: Arc<AtomicU64>,
    /// The stream is over for the caller (ended, or failed).
    done: bool,
    lastbeat: Arc<Lastbeat>,
    /// The call's span, entered while waiting for the stream; it ends with
    /// the stream's outcome.
    span: Span,
    started: Instant,
}

/// The request items' side of a stream call.
struct Upload {
    credit: Arc<Credit>,
    task: tokio::task::AbortHandle,
    /// Fires if an item could not be sent (too large, not encodable);
    /// `None` once the sender finished.
    failed: Option<oneshot::Receiver<CallError>>,
}

impl Drop for ClientStream {
    fn drop(&mut self) {
        // Dropped mid-stream: tell the server to stop (nRPC's lastbeat),
        // unless the stream ended or was cancelled already.
        self.stop(true);
    }
}

/// nRPC's `lastbeat` for one stream, sent at most once: by
/// [`ReplyStream::cancel`], by dropping the stream mid-way, or when the
/// stream fails on our side.
struct Lastbeat {
    nats: async_nats::Client,
    subject: Subject,
    encoding: Encoding,
    sent: AtomicBool,
}

impl Lastbeat {
    /// Whether it is still to be sent (and from now on, it is not).
    fn take(&self) -> bool {
        !self.sent.swap(true, Ordering::AcqRel)
    }

    async fn publish(&self) {
        let frame = OutFrame::lastbeat(self.encoding);
        let _ = message::publish(&self.nats, self.subject.clone(), frame).await;
    }
}

/// The replies of a stream call, in order; `None` after the last one
/// means the stream is complete. Dropping it cancels the call (from a
/// background task); [`cancel`](Self::cancel) does it now and waits until
/// the cancellation has left for the broker, for programs about to exit.
/// A stream that fails on the client's side (items lost, a reply that does
/// not decode, its deadline) cancels the server's handler at once.
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

/// The caller's error for a stream that failed.
fn call_error(e: StreamError) -> CallError {
    match e {
        StreamError::Status(s) => CallError::Status(s),
        StreamError::DataLoss(e) => CallError::DataLoss {
            arrived: e.arrived,
            sent: e.sent,
        },
        StreamError::CountMismatch(m) if m.received < u64::from(m.sent) => CallError::DataLoss {
            arrived: m.received,
            sent: m.sent.into(),
        },
        StreamError::CreditExceeded(_) => CallError::Overrun,
        StreamError::Silent(d) => CallError::Timeout(d),
        e @ (StreamError::CountMismatch(_) | StreamError::Malformed(_)) => {
            CallError::Decode(DecodeError::from_source(e))
        }
    }
}

/// Publishes the opening request of a stream (announcing the client's
/// window) and starts heartbeats.
pub(super) async fn begin(conn: &Connection, p: Prepared) -> Result<ClientStream, CallError> {
    let Prepared {
        mut out,
        encoding,
        stream_deadline,
        span,
    } = p;
    let started = Instant::now();
    // Keepalives come every second: a shorter silence is no sign of death.
    let inactivity = wire_stream::inactivity(out.deadline.timeout);
    let overall = stream_deadline.map(|d| (started + d, d));
    let inbound = Inbound::new(
        Role::Client,
        encoding,
        DEFAULT_WINDOW,
        inactivity,
        started.into_std(),
    );
    message::insert_all(
        out.headers.get_or_insert_with(HeaderMap::new),
        &OutFrame::open_headers(inbound.window()),
    );
    let capacity = inbound.window() as usize + SLACK;
    let replies = conn
        .request_many(out, capacity)
        .instrument(span.clone())
        .await?;
    let nats = conn.nats().clone();
    let heartbeat_subject = Subject::from(wire_stream::heartbeat_subject(&replies.subject));
    let lastbeat = Arc::new(Lastbeat {
        nats: nats.clone(),
        subject: heartbeat_subject.clone(),
        encoding,
        sent: AtomicBool::new(false),
    });
    let limit = Arc::new(AtomicU64::new(inbound.limit()));
    // Heartbeats: alive, and our credit limit again (a lost grant is
    // repaired by the next heartbeat).
    let heartbeat_task = {
        let (nats, subject, limit) = (nats.clone(), heartbeat_subject.clone(), limit.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
            loop {
                tick.tick().await;
                let beat = OutFrame::heartbeat(encoding, limit.load(Ordering::Relaxed));
                if message::publish(&nats, subject.clone(), beat)
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
        inbound,
        overall,
        limit,
        done: false,
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
        let (inbox, credit, batches) = match self.accepted().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // A server that answered refused or failed; a silent one
                // may still be there.
                let cancel = !matches!(e, CallError::Status(_) | CallError::NoResponders { .. });
                self.stop(cancel);
                return Err(e);
            }
        };
        let credit = Arc::new(Credit::new(Some(credit)));
        let (failed_tx, failed) = oneshot::channel();
        let task = tokio::spawn(send_requests::<Req>(
            requests,
            self.nats.clone(),
            Subject::from(inbox),
            self.encoding,
            credit.clone(),
            batches,
            failed_tx,
        ))
        .abort_handle();
        self.upload = Some(Upload {
            credit,
            task,
            failed: Some(failed),
        });
        Ok(())
    }

    /// The server's accept: its inbox for our items, its credit, and
    /// whether it reads batches.
    async fn accepted(&mut self) -> Result<(String, u64, bool), CallError> {
        match self.message().await? {
            Signal::Accepted {
                inbox,
                credit,
                batches,
            } => Ok((inbox, credit, batches)),
            _ => Err(CallError::Decode(DecodeError::new(
                "the server did not accept a request stream (no Nrpc-Stream-Inbox)",
            ))),
        }
    }

    /// The next message from the server, as the inbound machine reads it,
    /// within the inactivity timeout and the stream's deadline; a failure
    /// of our request items ends it too.
    async fn message(&mut self) -> Result<Signal, CallError> {
        let idle = Instant::from_std(self.inbound.idle_deadline());
        let (until, whole) = match self.overall {
            Some((at, whole)) if at < idle => (at, Some(whole)),
            _ => (idle, None),
        };
        let received = loop {
            let failed = self.upload.as_mut().and_then(|u| u.failed.as_mut());
            let upload_failed = async {
                match failed {
                    Some(failed) => failed.await.ok(),
                    None => std::future::pending().await,
                }
            };
            let rx = &mut self.replies.rx;
            tokio::select! {
                biased;
                failed = upload_failed => match failed {
                    Some(e) => return Err(e),
                    // The sender finished: nothing more to watch.
                    None => {
                        if let Some(upload) = &mut self.upload {
                            upload.failed = None;
                        }
                    }
                },
                r = tokio::time::timeout_at(until, rx.recv()) => break r,
            }
        };
        let msg = match received {
            Err(_) => {
                return Err(match whole {
                    Some(whole) => CallError::Timeout(whole),
                    None => match self.inbound.check_idle(Instant::now().into_std()) {
                        Err(e) => call_error(e),
                        // Heard from meanwhile (a message raced the timer).
                        Ok(()) => return Ok(Signal::Late),
                    },
                });
            }
            Ok(None) if self.replies.overrun.load(Ordering::Relaxed) => {
                return Err(CallError::Overrun)
            }
            Ok(None) => return Err(CallError::Closed),
            Ok(Some(msg)) => msg,
        };
        if msg.status == Some(StatusCode::NO_RESPONDERS) {
            return Err(CallError::NoResponders {
                subject: msg.subject.to_string(),
            });
        }
        let now = Instant::now().into_std();
        self.inbound
            .on_message(msg.payload.clone(), &Headers::of(&msg), now)
            .map_err(call_error)
    }

    /// The next item, or the end of the stream. However the stream ends,
    /// heartbeats stop; if it fails on our side, the server is told to
    /// stop at once.
    async fn next<T: Codec>(&mut self) -> Option<Result<T::Item, CallError>> {
        if self.done {
            return None;
        }
        let span = self.span.clone();
        let result = self.receive::<T>().instrument(span).await;
        if !matches!(result, Some(Ok(_))) {
            let code = result
                .as_ref()
                .and_then(|r| r.as_ref().err())
                .map(CallError::code);
            // The server ended it (its end, its error, nobody there): nothing
            // to cancel. Otherwise its handler may still be producing.
            let by_server = matches!(
                result,
                None | Some(Err(CallError::Status(_) | CallError::NoResponders { .. }))
            );
            self.stop(!by_server);
            observe::record(&self.span, code, self.started);
        }
        result
    }

    async fn receive<T: Codec>(&mut self) -> Option<Result<T::Item, CallError>> {
        loop {
            if let Some(payload) = self.inbound.pop() {
                return Some(self.item::<T>(payload).await);
            }
            if self.inbound.is_over() {
                // Every item arrived and was read.
                return None;
            }
            match self.message().await {
                Err(e) => return Some(Err(e)),
                // Keepalives carry the server's credit for our requests.
                Ok(Signal::Alive {
                    credit_limit: Some(limit),
                }) => {
                    if let Some(upload) = &self.upload {
                        upload.credit.set_limit(limit);
                    }
                }
                Ok(_) => {}
            }
        }
    }

    /// One item, decoded; reading it may grant the server more credit.
    async fn item<T: Codec>(&mut self, payload: Bytes) -> Result<T::Item, CallError> {
        let item = T::decode(payload, self.encoding).map_err(CallError::Decode)?;
        if let Some(limit) = self.inbound.consumed() {
            self.grant(limit).await;
        }
        Ok(item)
    }

    /// Announces our new credit limit at once (the heartbeat task repeats
    /// it every second).
    async fn grant(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
        let beat = OutFrame::heartbeat(self.encoding, limit);
        let _ = message::publish(&self.nats, self.heartbeat_subject.clone(), beat).await;
    }

    /// The stream is over for the caller: heartbeats and the request
    /// sender stop, and with `cancel` the server is told to stop (once;
    /// from a task, as this may run in `drop`).
    fn stop(&mut self, cancel: bool) {
        self.done = true;
        self.heartbeat_task.abort();
        if let Some(upload) = &self.upload {
            upload.task.abort();
        }
        if !self.lastbeat.take() || !cancel {
            return;
        }
        let lastbeat = self.lastbeat.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { lastbeat.publish().await });
        }
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
/// the count. Every second a keepalive on the same subject says how many
/// items were sent, so the server notices lost items at once. An item that
/// cannot be sent (too large for NATS, not encodable) ends the stream: the
/// server gets an error frame with its code, the caller the error.
async fn send_requests<Req: Codec>(
    mut requests: BoxStream<'static, Req::Item>,
    nats: async_nats::Client,
    inbox: Subject,
    encoding: Encoding,
    credit: Arc<Credit>,
    batches: bool,
    failed: oneshot::Sender<CallError>,
) {
    let max = nats.max_payload().min(wire_stream::MAX_BATCH_BYTES);
    let mut tick =
        tokio::time::interval_at(Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
    let progress = |nats: async_nats::Client, inbox: Subject, sent: u64| async move {
        let _ = message::publish(&nats, inbox, OutFrame::keepalive(Some(sent), None)).await;
    };
    let encode = |item: Req::Item| -> Result<Bytes, CallError> {
        let payload = Req::encode(&item, encoding).map_err(CallError::Encode)?;
        crate::limits::check(&nats, None, payload.len()).map_err(|e| {
            CallError::PayloadTooLarge {
                size: e.size,
                max: e.max,
            }
        })?;
        Ok(payload)
    };
    // Taken from the stream but not sent with the last batch.
    enum Carried {
        Item(Bytes),
        End,
    }
    let mut carried = None;
    let error = loop {
        let payload = match carried.take() {
            Some(Carried::Item(p)) => p,
            Some(Carried::End) => break None,
            None => {
                let item = tokio::select! {
                    item = requests.next() => item,
                    _ = tick.tick() => {
                        progress(nats.clone(), inbox.clone(), credit.sent()).await;
                        continue;
                    }
                };
                let Some(item) = item else {
                    break None;
                };
                match encode(item) {
                    Ok(p) => p,
                    Err(e) => break Some(e),
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
        let mut bad = None;
        while batches && size < max {
            let Some(next) = requests.next().now_or_never() else {
                break;
            };
            let Some(next) = next else {
                carried = Some(Carried::End);
                break;
            };
            match encode(next) {
                Err(e) => {
                    bad = Some(e);
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
        if bad.is_some() {
            break bad;
        }
    };
    let frame = match &error {
        None => OutFrame::end(encoding, credit.sent()),
        Some(e) => OutFrame::error(encoding, &Status::new(e.code(), e.to_string())),
    };
    let _ = message::publish(&nats, inbox, frame).await;
    if let Some(e) = error {
        let _ = failed.send(e);
    }
}
