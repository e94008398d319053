//! Bodies streamed between nrpc-http peers (the protocol is
//! `nrpc_wire::nrt::stream`): [`Body`], the sender of one direction and
//! the receiver of the other.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use nrpc_runtime::async_nats::{self, HeaderMap, Message, Subject};
use nrpc_runtime::Inbox;
use nrpc_wire::stream::{ReceiveWindow, SendWindow, HEARTBEAT_INTERVAL, INACTIVITY_TIMEOUT};
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use crate::wire::stream::{End, Signal, WINDOW};

/// Why a body did not arrive whole: the sender failed, went silent, or
/// chunks were lost.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(pub(crate) String);

/// A request or response body: whole, or arriving in chunks as the peer
/// produces them (server-sent events, a body larger than the broker's
/// `max_payload`). An `http_body::Body`; [`bytes`](Self::bytes) reads it
/// all.
#[derive(Debug)]
pub struct Body(Kind);

#[derive(Debug)]
enum Kind {
    Whole(Option<Bytes>),
    Chunks {
        chunks: mpsc::Receiver<Result<Bytes, BodyError>>,
        /// Woken when a chunk was read: the receiver may grant credit.
        read: Arc<Notify>,
    },
}

impl Body {
    /// An empty body.
    pub fn empty() -> Self {
        Body(Kind::Whole(None))
    }

    /// Whether the body arrives in chunks (rather than with the head).
    pub fn is_streamed(&self) -> bool {
        matches!(self.0, Kind::Chunks { .. })
    }

    /// The whole body; an error if it did not arrive whole.
    pub async fn bytes(self) -> Result<Bytes, BodyError> {
        match self.0 {
            Kind::Whole(bytes) => Ok(bytes.unwrap_or_default()),
            chunks => Ok(Body(chunks).collect().await?.to_bytes()),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body(Kind::Whole((!bytes.is_empty()).then_some(bytes)))
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.0 {
            Kind::Whole(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Chunks { chunks, read } => loop {
                match chunks.poll_recv(cx) {
                    Poll::Ready(Some(Ok(chunk))) => {
                        read.notify_one();
                        if !chunk.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(chunk))));
                        }
                    }
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => return Poll::Pending,
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.0, Kind::Whole(None))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.0 {
            Kind::Whole(bytes) => {
                http_body::SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Kind::Chunks { .. } => http_body::SizeHint::default(),
        }
    }
}

/// Publishes `signal` (with `payload`) to `to`, asking for answers on
/// `reply`.
pub(crate) async fn publish(
    nats: &async_nats::Client,
    to: &Subject,
    signal: Signal,
    reply: Option<&Subject>,
    payload: Bytes,
) -> Result<(), String> {
    let mut headers = HeaderMap::new();
    if let Some((name, value)) = signal.header() {
        headers.insert(name, value.as_str());
    }
    let sent = match reply {
        Some(reply) => {
            nats.publish_with_reply_and_headers(to.clone(), reply.clone(), headers, payload)
                .await
        }
        None => {
            nats.publish_with_headers(to.clone(), headers, payload)
                .await
        }
    };
    sent.map_err(|e| format!("publishing to {to}: {e}"))
}

/// The signal a message carries.
pub(crate) fn signal(message: &Message) -> Result<Signal, BodyError> {
    let headers = message.headers.as_ref();
    Signal::read(|name| headers.and_then(|h| h.get(name)).map(|v| v.as_str()))
        .map_err(|e| BodyError(e.to_string()))
}

/// Receives a streamed body on `inbox`, sending credit (and, if the reader
/// goes away, a cancel) to `credit_to`.
pub(crate) fn receive(nats: async_nats::Client, mut inbox: Inbox, credit_to: Subject) -> Body {
    let (tx, chunks) = mpsc::channel(WINDOW as usize);
    let read = Arc::new(Notify::new());
    let woken = read.clone();
    tokio::spawn(async move {
        match pump(&nats, &mut inbox, &credit_to, &tx, &woken).await {
            Ok(()) => {}
            Err(stop) => {
                if let Some(why) = stop {
                    let _ = tx.try_send(Err(BodyError(why)));
                }
                let _ = publish(&nats, &credit_to, Signal::Cancel, None, Bytes::new()).await;
            }
        }
    });
    Body(Kind::Chunks { chunks, read })
}

/// Moves chunks from `inbox` to the reader; `Err(None)` when the reader
/// went away, `Err(Some(why))` when the body cannot arrive whole.
async fn pump(
    nats: &async_nats::Client,
    inbox: &mut Inbox,
    credit_to: &Subject,
    tx: &mpsc::Sender<Result<Bytes, BodyError>>,
    read: &Notify,
) -> Result<(), Option<String>> {
    let mut window = ReceiveWindow::new(WINDOW);
    let (mut handed, mut counted) = (0u64, 0u64);
    let mut beat =
        tokio::time::interval_at(Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            message = inbox.recv() => {
                let Some(message) = message else {
                    return Err(Some(if inbox.overrun() {
                        "the sender sent more than its credit allowed".to_owned()
                    } else {
                        "the connection closed".to_owned()
                    }));
                };
                heard = Instant::now();
                match signal(&message).map_err(|e| Some(e.0))? {
                    Signal::Chunk(_, End::Abort) => {
                        return Err(Some(format!(
                            "the sender failed: {}",
                            String::from_utf8_lossy(&message.payload)
                        )))
                    }
                    Signal::Chunk(seq, end) => {
                        window.on_arrival().map_err(|e| Some(e.to_string()))?;
                        window.on_sequence(seq).map_err(|e| Some(e.to_string()))?;
                        // Never full: credit keeps the sender a window ahead at most.
                        tx.try_send(Ok(message.payload)).map_err(|_| None)?;
                        handed += 1;
                        if end == End::Last {
                            return Ok(());
                        }
                    }
                    Signal::Sent(sent) => window.on_progress(sent).map_err(|e| Some(e.to_string()))?,
                    _ => {}
                }
            }
            () = read.notified() => {}
            _ = beat.tick() => {
                if heard.elapsed() > INACTIVITY_TIMEOUT {
                    return Err(Some(format!("the sender sent nothing for {INACTIVITY_TIMEOUT:?}")));
                }
                // The heartbeat: credit again, in case a grant was lost.
                publish(nats, credit_to, Signal::Credit(window.limit()), None, Bytes::new())
                    .await
                    .map_err(Some)?;
            }
            () = tx.closed() => return Err(None),
        }
        // Chunks the reader took since the last look: grant for them.
        let unread = (WINDOW as usize - tx.capacity()) as u64;
        let consumed = handed - unread;
        let mut grant = None;
        while counted < consumed {
            counted += 1;
            grant = window.on_item().or(grant);
        }
        if let Some(limit) = grant {
            publish(nats, credit_to, Signal::Credit(limit), None, Bytes::new())
                .await
                .map_err(Some)?;
        }
    }
}

/// How sending a body ended.
#[derive(Debug)]
pub(crate) enum Sent {
    /// All of it went, the last chunk marked.
    Done,
    /// The receiver stopped reading.
    Cancelled,
    /// A message that is not for the sender arrived on its inbox (the
    /// response to a request whose body was still going): sending stopped.
    Interrupted(Message),
    /// Sending failed: the body, the connection, or a silent receiver.
    Failed(String),
}

/// Sends `first` and then `body` to `to` as chunks of `chunk` bytes, within
/// the receiver's credit (`credit` at first, then what arrives on
/// `control`).
pub(crate) async fn send<B>(
    nats: &async_nats::Client,
    to: &Subject,
    first: Bytes,
    body: B,
    credit: u64,
    chunk: usize,
    control: &mut Inbox,
) -> Sent
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let mut window = SendWindow::new(Some(credit));
    let mut seq = 0u64;
    let mut pending = first;
    let mut ended = false;
    let mut beat =
        tokio::time::interval_at(Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
    let mut heard = Instant::now();
    loop {
        // Send what is at hand while there is credit.
        while (!pending.is_empty() || ended) && window.try_send() {
            let piece = pending.split_to(pending.len().min(chunk));
            seq += 1;
            let end = if ended && pending.is_empty() {
                End::Last
            } else {
                End::More
            };
            if let Err(e) = publish(nats, to, Signal::Chunk(seq, end), None, piece).await {
                return Sent::Failed(e);
            }
            window.on_sent();
            if end == End::Last {
                return Sent::Done;
            }
        }
        let waiting_for_credit = !pending.is_empty() || ended;
        tokio::select! {
            biased;
            message = control.recv() => {
                let Some(message) = message else {
                    return Sent::Failed("the connection closed".to_owned());
                };
                heard = Instant::now();
                match signal(&message) {
                    Ok(Signal::Credit(limit)) => window.set_limit(limit),
                    Ok(Signal::Cancel) => return Sent::Cancelled,
                    Ok(Signal::Chunk(..) | Signal::Sent(_)) => {}
                    // A response (or what claims to be one): the upload
                    // ends, and the receiver is told so.
                    Ok(Signal::Whole | Signal::Head) | Err(_) => {
                        let why = Bytes::from_static(b"the response came before the whole body");
                        let _ = publish(nats, to, Signal::Chunk(seq + 1, End::Abort), None, why).await;
                        return Sent::Interrupted(message);
                    }
                }
            }
            frame = body.frame(), if !waiting_for_credit => match frame {
                None => ended = true,
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        pending = data;
                    }
                    // Known to be the last: its last chunk says so.
                    ended = body.is_end_stream();
                }
                Some(Err(e)) => {
                    let why = Bytes::from(e.to_string());
                    let _ = publish(nats, to, Signal::Chunk(seq + 1, End::Abort), None, why).await;
                    return Sent::Failed(format!("the body failed: {e}"));
                }
            },
            _ = beat.tick() => {
                if heard.elapsed() > INACTIVITY_TIMEOUT {
                    return Sent::Failed(format!(
                        "the receiver sent nothing for {INACTIVITY_TIMEOUT:?}"
                    ));
                }
                let alive = publish(nats, to, Signal::Sent(window.sent()), None, Bytes::new());
                if let Err(e) = alive.await {
                    return Sent::Failed(e);
                }
            }
        }
    }
}
