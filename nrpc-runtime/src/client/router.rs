//! One reply router per connection: a single wildcard inbox subscription
//! whose replies are handed to the waiting call by token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::{HeaderMap, Message, StatusCode, Subject};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::CallError;

/// Replies a multi-reply call (broadcast, discovery) may have queued before
/// the caller reads them; more are dropped rather than grow memory.
const MANY_CAPACITY: usize = 1024;

/// Where the replies to one token go.
enum Route {
    /// The first reply resolves the call and removes the entry.
    Once(oneshot::Sender<Message>),
    /// Every reply is forwarded until the caller drops the receiver; the
    /// flag is set if the route was closed because the caller fell behind.
    Many(mpsc::Sender<Message>, Arc<AtomicBool>),
}

struct Router {
    /// `None` once the inbox subscription has ended: the connection is closed.
    pending: Mutex<Option<HashMap<u64, Route>>>,
}

struct Inner {
    nats: async_nats::Client,
    /// `_INBOX.<nuid>.`; a call's reply subject is this plus its token.
    inbox_prefix: String,
    router: Arc<Router>,
    next_token: AtomicU64,
    task: tokio::task::AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A NATS connection prepared for nrpc calls: one wildcard inbox
/// subscription routes the replies of every call made through it, so calls
/// add no subscriptions. Cheap to clone; clones share the routing.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("inbox_prefix", &self.inner.inbox_prefix)
            .finish_non_exhaustive()
    }
}

/// Removes a call's routing entry however the call ends (reply, timeout,
/// or the caller dropping the future or stream).
pub(crate) struct PendingGuard {
    router: Arc<Router>,
    token: u64,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if let Some(map) = lock(&self.router.pending).as_mut() {
            map.remove(&self.token);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Replies of a multi-reply call, with the guard that keeps its route.
pub(crate) struct Replies {
    pub(crate) rx: mpsc::Receiver<Message>,
    /// The reply subject the call was sent with.
    pub(crate) subject: Subject,
    /// Set when replies came faster than they were read and the route was
    /// closed (the receiver then ends early).
    pub(crate) overrun: Arc<AtomicBool>,
    pub(crate) _guard: PendingGuard,
}

impl Connection {
    /// Subscribes the reply inbox on `nats` and starts routing replies.
    pub async fn new(nats: async_nats::Client) -> Result<Self, async_nats::SubscribeError> {
        let inbox_prefix = format!("{}.", nats.new_inbox());
        let mut sub = nats.subscribe(format!("{inbox_prefix}*")).await?;
        let router = Arc::new(Router {
            pending: Mutex::new(Some(HashMap::new())),
        });
        let task_router = router.clone();
        let prefix_len = inbox_prefix.len();
        let task = tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let token = msg
                    .subject
                    .get(prefix_len..)
                    .and_then(|t| t.parse::<u64>().ok());
                let Some(token) = token else { continue };
                let mut pending = lock(&task_router.pending);
                let Some(map) = pending.as_mut() else { break };
                match map.get(&token) {
                    Some(Route::Once(_)) => {
                        if let Some(Route::Once(tx)) = map.remove(&token) {
                            // The caller may have given up in the meantime.
                            let _ = tx.send(msg);
                        }
                    }
                    Some(Route::Many(tx, overrun)) => {
                        if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(msg) {
                            // Never grow without bound: the route is closed and
                            // its reader learns that replies were lost.
                            tracing::warn!("nrpc: reply queue full; closing the call");
                            overrun.store(true, Ordering::Relaxed);
                            map.remove(&token);
                        }
                    }
                    None => {}
                }
            }
            // Subscription over: fail every waiting call and all later ones.
            lock(&task_router.pending).take();
        })
        .abort_handle();
        Ok(Self {
            inner: Arc::new(Inner {
                nats,
                inbox_prefix,
                router,
                next_token: AtomicU64::new(1),
                task,
            }),
        })
    }

    /// The underlying NATS client.
    pub fn nats(&self) -> &async_nats::Client {
        &self.inner.nats
    }

    /// Calls waiting for replies right now.
    pub fn pending_calls(&self) -> usize {
        lock(&self.inner.router.pending)
            .as_ref()
            .map_or(0, HashMap::len)
    }

    fn register(&self, route: Route) -> Result<(Subject, PendingGuard), CallError> {
        let token = self.inner.next_token.fetch_add(1, Ordering::Relaxed);
        match lock(&self.inner.router.pending).as_mut() {
            Some(map) => map.insert(token, route),
            None => return Err(CallError::Closed),
        };
        let guard = PendingGuard {
            router: self.inner.router.clone(),
            token,
        };
        let mut reply = String::with_capacity(self.inner.inbox_prefix.len() + 20);
        reply.push_str(&self.inner.inbox_prefix);
        reply.push_str(&token.to_string());
        Ok((Subject::from(reply), guard))
    }

    /// Publishes; `reply` asks for answers. Errors are mapped to call errors.
    async fn send(
        &self,
        subject: Subject,
        reply: Option<Subject>,
        headers: Option<HeaderMap>,
        payload: Bytes,
    ) -> Result<(), CallError> {
        crate::limits::check(&self.inner.nats, headers.as_ref(), payload.len()).map_err(|e| {
            CallError::PayloadTooLarge {
                size: e.size,
                max: e.max,
            }
        })?;
        let nats = &self.inner.nats;
        let size = payload.len();
        let sent = match (reply, headers) {
            (Some(r), Some(h)) => {
                nats.publish_with_reply_and_headers(subject, r, h, payload)
                    .await
            }
            (Some(r), None) => nats.publish_with_reply(subject, r, payload).await,
            (None, Some(h)) => nats.publish_with_headers(subject, h, payload).await,
            (None, None) => nats.publish(subject, payload).await,
        };
        sent.map_err(|e| match e.kind() {
            async_nats::client::PublishErrorKind::MaxPayloadExceeded => {
                CallError::PayloadTooLarge {
                    size,
                    max: nats.max_payload(),
                }
            }
            _ => CallError::Closed,
        })
    }

    /// Sends `payload` to `subject` and waits for one reply.
    pub async fn request(
        &self,
        subject: String,
        headers: Option<HeaderMap>,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Message, CallError> {
        let (tx, rx) = oneshot::channel();
        let (reply, _guard) = self.register(Route::Once(tx))?;
        // Subjects built from a String are not copied again on publish.
        let subject = Subject::from(subject);
        self.send(subject.clone(), Some(reply), headers, payload)
            .await?;
        let msg = match tokio::time::timeout(timeout, rx).await {
            Err(_) => return Err(CallError::Timeout(timeout)),
            Ok(Err(_)) => return Err(CallError::Closed),
            Ok(Ok(msg)) => msg,
        };
        if msg.status == Some(StatusCode::NO_RESPONDERS) {
            return Err(CallError::NoResponders {
                subject: subject.to_string(),
            });
        }
        Ok(msg)
    }

    /// Sends `payload` to `subject` and routes every reply to the returned
    /// receiver until it is dropped (broadcast calls, discovery).
    pub(crate) async fn request_many(
        &self,
        subject: String,
        headers: Option<HeaderMap>,
        payload: Bytes,
    ) -> Result<Replies, CallError> {
        self.request_many_with_capacity(subject, headers, payload, MANY_CAPACITY)
            .await
    }

    /// [`request_many`](Self::request_many) with room for `capacity` unread
    /// replies.
    pub(crate) async fn request_many_with_capacity(
        &self,
        subject: String,
        headers: Option<HeaderMap>,
        payload: Bytes,
        capacity: usize,
    ) -> Result<Replies, CallError> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let overrun = Arc::new(AtomicBool::new(false));
        let (reply, guard) = self.register(Route::Many(tx, overrun.clone()))?;
        self.send(
            Subject::from(subject),
            Some(reply.clone()),
            headers,
            payload,
        )
        .await?;
        Ok(Replies {
            rx,
            subject: reply,
            overrun,
            _guard: guard,
        })
    }

    /// Publishes without a reply subject (fire-and-forget, events).
    pub async fn publish(
        &self,
        subject: String,
        headers: Option<HeaderMap>,
        payload: Bytes,
    ) -> Result<(), CallError> {
        self.send(Subject::from(subject), None, headers, payload)
            .await
    }
}
