//! One reply router per connection: a single wildcard inbox subscription
//! whose replies are handed to the waiting call by token.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{HeaderMap, Message, StatusCode, Subject};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use nrpc_wire::headers;
use nrpc_wire::subject::validate_literal;
use nrpc_wire::{InvalidToken, Status};
use tokio::sync::{broadcast, mpsc, oneshot, Notify};
use tokio::time::Instant;

use super::error::CallError;
use super::intercept::{Interceptor, OutgoingCall, RetryPolicy};
use crate::lock;

/// Replies a multi-reply call (broadcast, discovery) may have queued before
/// the caller reads them; more are dropped rather than grow memory.
pub(crate) const MANY_CAPACITY: usize = 1024;

/// How often the router looks at the connection's state, to fail the
/// calls waiting for a reply when the connection drops.
const STATE_CHECK: Duration = Duration::from_millis(50);

/// How often a call waiting for ready looks at the state of a connection
/// whose events nobody passes on (one made from a bare client).
const RECONNECT_CHECK: Duration = Duration::from_millis(10);

/// How long the permission check waits for its message to itself.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the permission check waits, after its message came back, for
/// async-nats's event task to pass on the server's errors.
const EVENT_GRACE: Duration = Duration::from_millis(200);

/// Where the replies to one token go.
enum Route {
    /// The first reply resolves the call and removes the entry; `None`
    /// means the connection dropped while the call waited.
    Once(oneshot::Sender<Option<Message>>),
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
    /// The connection's events, when it was made by
    /// [`connect`](crate::connect) (async-nats reports them only to the
    /// event callback given when connecting).
    events: Option<Events>,
}

/// What the event callback of a connection made by [`connect`](crate::connect)
/// passes on.
#[derive(Debug, Clone)]
pub(crate) struct Events {
    /// The server's `-ERR` lines.
    pub(crate) errors: broadcast::Sender<String>,
    /// Woken whenever the connection comes up.
    pub(crate) connected: Arc<Notify>,
}

impl Events {
    pub(crate) fn new() -> Self {
        Self {
            errors: broadcast::channel(SERVER_ERRORS).0,
            connected: Arc::new(Notify::new()),
        }
    }

    /// Passes on one event of async-nats's callback.
    pub(crate) fn on(&self, event: &async_nats::Event) {
        match event {
            async_nats::Event::ServerError(e) => {
                tracing::warn!(error = %e, "nrpc: the NATS server reported an error");
                let _ = self.errors.send(e.to_string());
            }
            async_nats::Event::Connected => self.connected.notify_waiters(),
            _ => {}
        }
    }
}

/// Server error lines kept for a permission check that has not read them yet.
const SERVER_ERRORS: usize = 64;

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
    /// In front of every service subject of clients and servers made from
    /// this connection (`NRPC_PREFIX`); empty for none.
    subject_prefix: Arc<str>,
    /// Run for every call made through this connection, in order.
    interceptors: Arc<[Interceptor]>,
    retry: Option<Arc<RetryPolicy>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("inbox_prefix", &self.inner.inbox_prefix)
            .field("subject_prefix", &self.subject_prefix)
            .field("interceptors", &self.interceptors.len())
            .field("retry", &self.retry)
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

/// The connection dropped: a reply to a call sent before cannot arrive
/// (NATS does not keep it for us), so each such call fails at once with an
/// unknown outcome. Streams and broadcasts keep their routes: they carry
/// their own liveness checks and may go on after a reconnect.
fn fail_waiting_calls(router: &Router) {
    if let Some(map) = lock(&router.pending).as_mut() {
        let waiting: Vec<u64> = map
            .iter()
            .filter(|(_, route)| matches!(route, Route::Once(_)))
            .map(|(token, _)| *token)
            .collect();
        for token in waiting {
            if let Some(Route::Once(tx)) = map.remove(&token) {
                let _ = tx.send(None);
            }
        }
    }
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

/// Messages sent to one subject of a connection's inbox
/// ([`Connection::inbox`]); the subject is released when this is dropped.
pub struct Inbox(Replies);

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Inbox").field(&self.0.subject).finish()
    }
}

impl Inbox {
    /// The subject to send to (a reply subject, typically).
    pub fn subject(&self) -> &Subject {
        &self.0.subject
    }

    /// The next message; `None` once the connection is closed or messages
    /// came faster than they were read (see [`overrun`](Self::overrun)).
    pub async fn recv(&mut self) -> Option<Message> {
        self.0.rx.recv().await
    }

    /// Whether messages were dropped because they were not read in time.
    pub fn overrun(&self) -> bool {
        self.0.overrun.load(Ordering::Relaxed)
    }
}

impl Connection {
    /// Subscribes the reply inbox on `nats` and starts routing replies.
    ///
    /// [`connect`](crate::connect) makes the NATS connection too, and then
    /// also reports subscriptions the server's permissions deny.
    pub async fn new(nats: async_nats::Client) -> Result<Self, async_nats::SubscribeError> {
        Self::start(nats, None).await
    }

    /// [`new`](Self::new) on a connection whose server errors reach
    /// `errors`; a denied inbox subscription is an error.
    pub(crate) async fn with_events(
        nats: async_nats::Client,
        events: Events,
    ) -> Result<Self, String> {
        let mut seen = events.errors.subscribe();
        let conn = Self::start(nats, Some(events))
            .await
            .map_err(|e| e.to_string())?;
        let inbox = format!("{}*", conn.inner.inbox_prefix);
        if let Some(denied) = conn.denied(&mut seen, &[inbox.as_str()]).await {
            return Err(format!(
                "{denied}: a client needs permission to subscribe to its inbox \
                 (`_INBOX.>`, or `<prefix>.>` with an inbox prefix)"
            ));
        }
        Ok(conn)
    }

    async fn start(
        nats: async_nats::Client,
        events: Option<Events>,
    ) -> Result<Self, async_nats::SubscribeError> {
        let inbox_prefix = format!("{}.", nats.new_inbox());
        let mut sub = nats.subscribe(format!("{inbox_prefix}*")).await?;
        let router = Arc::new(Router {
            pending: Mutex::new(Some(HashMap::new())),
        });
        let task_router = router.clone();
        let prefix_len = inbox_prefix.len();
        let state_nats = nats.clone();
        let task = tokio::spawn(async move {
            let mut check = tokio::time::interval(STATE_CHECK);
            check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut was_connected = true;
            loop {
                let msg = tokio::select! {
                    biased;
                    msg = sub.next() => msg,
                    _ = check.tick() => {
                        let connected = state_nats.connection_state() == State::Connected;
                        if was_connected && !connected {
                            fail_waiting_calls(&task_router);
                        }
                        was_connected = connected;
                        continue;
                    }
                };
                let Some(msg) = msg else { break };
                let mut pending = lock(&task_router.pending);
                let Some(map) = pending.as_mut() else { break };
                route(map, prefix_len, msg);
                // What else has arrived goes out under the same lock.
                while let Some(Some(msg)) = sub.next().now_or_never() {
                    route(map, prefix_len, msg);
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
                events,
            }),
            subject_prefix: Arc::from(""),
            interceptors: Arc::new([]),
            retry: None,
        })
    }

    /// The same connection (sharing its reply routing) with `interceptor`
    /// run for every call made through it, after those added before. It
    /// sees the service, method, subject and headers of the call and may
    /// add headers (credentials, tenant) or refuse the call with a status.
    ///
    /// ```no_run
    /// # async fn run(conn: nrpc_runtime::Connection) {
    /// let token = "Bearer s3cret".to_owned();
    /// let conn = conn.with_interceptor(move |call| call.set_header("Authorization", &token));
    /// # let _ = conn; }
    /// ```
    pub fn with_interceptor<F>(&self, interceptor: F) -> Self
    where
        F: Fn(&mut OutgoingCall<'_>) -> Result<(), Status> + Send + Sync + 'static,
    {
        let mut all: Vec<Interceptor> = self.interceptors.iter().cloned().collect();
        all.push(Arc::new(interceptor));
        Self {
            interceptors: all.into(),
            ..self.clone()
        }
    }

    /// The same connection with `policy` retrying the request/reply calls
    /// of the methods it marks idempotent (replacing any earlier policy).
    pub fn with_retry(&self, policy: RetryPolicy) -> Self {
        Self {
            retry: Some(Arc::new(policy)),
            ..self.clone()
        }
    }

    pub(crate) fn interceptors(&self) -> &[Interceptor] {
        &self.interceptors
    }

    pub(crate) fn retry(&self) -> Option<&RetryPolicy> {
        self.retry.as_deref()
    }

    /// The same connection (sharing its reply routing) with `prefix` in
    /// front of every service subject of the clients and servers made from
    /// it, e.g. `canary` or `staging.eu` (may be empty for none).
    pub fn with_subject_prefix(&self, prefix: &str) -> Result<Self, InvalidToken> {
        validate_literal("subject prefix", prefix)?;
        Ok(Self {
            subject_prefix: Arc::from(prefix),
            ..self.clone()
        })
    }

    /// The subject prefix of this connection (empty for none).
    pub fn subject_prefix(&self) -> &str {
        &self.subject_prefix
    }

    /// A receiver of the server's error lines, if this connection was made
    /// by [`connect`](crate::connect).
    pub(crate) fn server_errors(&self) -> Option<broadcast::Receiver<String>> {
        self.inner.events.as_ref().map(|e| e.errors.subscribe())
    }

    /// After subscribing to `subjects` on this connection's client: the
    /// first of them the server refused ("Permissions Violation for
    /// Subscription to …"), if any.
    ///
    /// A message to ourselves through the server comes back after every
    /// error the server sent about earlier subscriptions; async-nats then
    /// hands those errors to its event task, which feeds `errors`, so a
    /// short grace follows.
    pub(crate) async fn denied(
        &self,
        errors: &mut broadcast::Receiver<String>,
        subjects: &[&str],
    ) -> Option<String> {
        let _ = self.round_trip(PROBE_TIMEOUT).await;
        let until = Instant::now() + EVENT_GRACE;
        loop {
            let line = match tokio::time::timeout_at(until, errors.recv()).await {
                Ok(Ok(line)) => line,
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => return None,
            };
            if !line
                .to_ascii_lowercase()
                .contains("permissions violation for subscription to")
            {
                continue;
            }
            if let Some(subject) = subjects.iter().find(|s| line.contains(&format!("\"{s}\""))) {
                return Some(format!(
                    "the NATS server denied the subscription to {subject:?} ({line})"
                ));
            }
        }
    }

    /// Sends a message to this connection's own inbox and waits (up to
    /// `timeout`) for it to come back: the server has then processed every
    /// subscription made before, so messages others publish from now on
    /// reach them (async-nats's `flush` only writes them out).
    pub async fn round_trip(&self, timeout: Duration) -> Result<(), CallError> {
        let (tx, rx) = oneshot::channel();
        let (probe, _guard) = self.register(Route::Once(tx))?;
        self.inner
            .nats
            .publish(probe, Bytes::new())
            .await
            .map_err(|_| CallError::Closed)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Some(_))) => Ok(()),
            Ok(Ok(None)) => Err(CallError::ConnectionLost),
            Ok(Err(_)) => Err(CallError::Closed),
            Err(_) => Err(CallError::Timeout(timeout)),
        }
    }

    /// Waits until everything published so far (fire-and-forget calls,
    /// events, a stream's cancellation) has been written to the broker:
    /// call it before a program exits.
    pub async fn flush(&self) -> Result<(), CallError> {
        self.inner.nats.flush().await.map_err(|_| CallError::Closed)
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
        let _ = write!(reply, "{token}");
        Ok((Subject::from(reply), guard))
    }

    /// Publishes `out`; `reply` asks for answers. The call's deadline
    /// bounds the whole send: an expired call is never sent, the remaining
    /// time is what `Nrpc-Timeout` announces, and a publish that cannot
    /// complete in time (the connection's buffer is full while it is down)
    /// is abandoned. A connection that is down fails the call at once
    /// unless it waits for ready.
    async fn send(&self, out: Outgoing, reply: Option<Subject>) -> Result<(), CallError> {
        let Outgoing {
            subject,
            mut headers,
            payload,
            deadline,
        } = out;
        let nats = &self.inner.nats;
        if nats.connection_state() != State::Connected {
            if !deadline.wait_for_ready {
                return Err(CallError::NotConnected);
            }
            // Wait here, not in the client's send buffer: a request buffered
            // while disconnected would go out after its caller gave up.
            tokio::time::timeout_at(deadline.at, self.connected())
                .await
                .map_err(|_| CallError::Timeout(deadline.timeout))?;
        }
        let left = deadline.at.saturating_duration_since(Instant::now());
        if deadline.announce {
            // Whole milliseconds, as on the wire; nothing left means expired.
            if left.as_millis() == 0 {
                return Err(CallError::Timeout(deadline.timeout));
            }
            headers
                .get_or_insert_with(HeaderMap::new)
                .insert(headers::TIMEOUT, headers::format_timeout(left).as_str());
        } else if left.is_zero() {
            return Err(CallError::Timeout(deadline.timeout));
        }
        crate::limits::check(nats, headers.as_ref(), payload.len()).map_err(|e| {
            CallError::PayloadTooLarge {
                size: e.size,
                max: e.max,
            }
        })?;
        let size = payload.len();
        let publish = async {
            match (reply, headers) {
                (Some(r), Some(h)) => {
                    nats.publish_with_reply_and_headers(subject, r, h, payload)
                        .await
                }
                (Some(r), None) => nats.publish_with_reply(subject, r, payload).await,
                (None, Some(h)) => nats.publish_with_headers(subject, h, payload).await,
                (None, None) => nats.publish(subject, payload).await,
            }
        };
        let sent = tokio::time::timeout_at(deadline.at, publish)
            .await
            .map_err(|_| CallError::Timeout(deadline.timeout))?;
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

    /// Returns once the connection is up: woken by the connection's
    /// events when [`connect`](crate::connect) made it; a connection made
    /// from a bare client (which reports its events to nobody) is looked
    /// at every [`RECONNECT_CHECK`].
    pub(crate) async fn connected(&self) {
        let nats = &self.inner.nats;
        let Some(events) = &self.inner.events else {
            while nats.connection_state() != State::Connected {
                tokio::time::sleep(RECONNECT_CHECK).await;
            }
            return;
        };
        loop {
            let woken = events.connected.notified();
            tokio::pin!(woken);
            // Registered before looking: an event in between still wakes us.
            woken.as_mut().enable();
            if nats.connection_state() == State::Connected {
                return;
            }
            woken.await;
        }
    }

    /// Sends a request and waits for one reply until its deadline.
    pub(crate) async fn request(&self, out: Outgoing) -> Result<Message, CallError> {
        let (tx, rx) = oneshot::channel();
        let (reply, _guard) = self.register(Route::Once(tx))?;
        let deadline = out.deadline;
        let subject = out.subject.clone();
        self.send(out, Some(reply.clone())).await?;
        // Dropped before the answer: tell the service to drop the handler.
        let mut abandon = CancelOnDrop {
            nats: Some(&self.inner.nats),
            subject: &subject,
            reply,
        };
        let answer = tokio::time::timeout_at(deadline.at, rx).await;
        // Answered or failed: nothing to cancel. Timed out: the server's
        // deadline ends the handler if it knows one; if not, the cancel
        // message does.
        if answer.is_ok() || deadline.announce {
            abandon.nats = None;
        }
        let msg = match answer {
            Err(_) => return Err(CallError::Timeout(deadline.timeout)),
            Ok(Err(_)) => return Err(CallError::Closed),
            Ok(Ok(None)) => return Err(CallError::ConnectionLost),
            Ok(Ok(Some(msg))) => msg,
        };
        if msg.status == Some(StatusCode::NO_RESPONDERS) {
            return Err(CallError::NoResponders {
                subject: subject.to_string(),
            });
        }
        Ok(msg)
    }

    /// Sends a request and routes every reply to the returned receiver
    /// until it is dropped (broadcast calls, discovery), with room for
    /// `capacity` unread replies.
    pub(crate) async fn request_many(
        &self,
        out: Outgoing,
        capacity: usize,
    ) -> Result<Replies, CallError> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let overrun = Arc::new(AtomicBool::new(false));
        let (reply, guard) = self.register(Route::Many(tx, overrun.clone()))?;
        self.send(out, Some(reply.clone())).await?;
        Ok(Replies {
            rx,
            subject: reply,
            overrun,
            _guard: guard,
        })
    }

    /// Publishes `payload` to `subject`, with a reply subject of this
    /// connection's inbox, and returns the first reply within `timeout`:
    /// for protocols built on nrpc's connection (nrpc-http). As for calls:
    /// no responders, the timeout and a connection that drops are errors at
    /// once, and a caller that gives up (drops the future, or the timeout
    /// passes) sends its reply subject to `_NRPC.cancel.<subject>`.
    pub async fn request_message(
        &self,
        subject: Subject,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Message, CallError> {
        self.request(Outgoing {
            subject,
            headers: None,
            payload,
            deadline: Deadline::after(timeout),
        })
        .await
    }

    /// A subject of this connection's inbox whose messages the returned
    /// [`Inbox`] receives until it is dropped, with room for `capacity`
    /// unread ones: for protocols built on nrpc's connection (nrpc-http's
    /// streamed bodies). No subscription is made.
    pub fn inbox(&self, capacity: usize) -> Result<Inbox, CallError> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let overrun = Arc::new(AtomicBool::new(false));
        let (subject, guard) = self.register(Route::Many(tx, overrun.clone()))?;
        Ok(Inbox(Replies {
            rx,
            subject,
            overrun,
            _guard: guard,
        }))
    }

    /// Publishes without a reply subject (fire-and-forget, events).
    pub(crate) async fn publish(&self, out: Outgoing) -> Result<(), CallError> {
        self.send(out, None).await
    }
}

/// Hands a reply to its call (`prefix_len`: the inbox prefix's length).
fn route(map: &mut HashMap<u64, Route>, prefix_len: usize, msg: Message) {
    let token = msg
        .subject
        .get(prefix_len..)
        .and_then(|t| t.parse::<u64>().ok());
    let Some(token) = token else { return };
    match map.get(&token) {
        Some(Route::Once(_)) => {
            if let Some(Route::Once(tx)) = map.remove(&token) {
                // The caller may have given up in the meantime.
                let _ = tx.send(Some(msg));
            }
        }
        Some(Route::Many(tx, overrun)) => {
            if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(msg) {
                // Never grow without bound: the route is closed and its
                // reader learns that replies were lost.
                tracing::warn!("nrpc: reply queue full; closing the call");
                overrun.store(true, Ordering::Relaxed);
                map.remove(&token);
            }
        }
        None => {}
    }
}

/// Cancels a request whose caller dropped the call before its answer: a
/// message to `_NRPC.cancel.<request subject>` carrying the reply subject
/// (nrpc servers drop the handler; others do not subscribe). Costs nothing
/// for calls that end normally.
struct CancelOnDrop<'a> {
    /// `None` once the call has ended.
    nats: Option<&'a async_nats::Client>,
    subject: &'a Subject,
    reply: Subject,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        let Some(nats) = self.nats.take().cloned() else {
            return;
        };
        // The request's subject was checked; its cancel subject is no longer.
        let Ok(cancel) = nrpc_wire::route::cancel_subject(self.subject) else {
            return;
        };
        let reply = Bytes::copy_from_slice(self.reply.as_bytes());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = nats.publish(cancel, reply).await;
                // Out before this handle, maybe the connection's last, goes.
                let _ = nats.flush().await;
            });
        }
    }
}

/// When a call gives up, and whether it tells the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// The instant the caller stops waiting.
    pub(crate) at: Instant,
    /// The timeout it came from (for `CallError::Timeout`).
    pub(crate) timeout: Duration,
    /// Send the time left as `Nrpc-Timeout`.
    pub(crate) announce: bool,
    /// Wait for a connection that is down instead of failing at once.
    pub(crate) wait_for_ready: bool,
}

impl Deadline {
    /// A deadline `timeout` from now.
    pub(crate) fn after(timeout: Duration) -> Self {
        Self {
            at: Instant::now() + timeout,
            timeout,
            announce: false,
            wait_for_ready: false,
        }
    }
}

/// One message a call sends.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) subject: Subject,
    pub(crate) headers: Option<HeaderMap>,
    pub(crate) payload: Bytes,
    pub(crate) deadline: Deadline,
}
