//! Serving an HTTP service over NATS: any `tower::Service` of HTTP
//! requests — an axum `Router` as it is — answers the requests for a
//! `.nats` host, beside its normal listener.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyExt;
use nrpc_runtime::async_nats::{self, Message, Subject};
use nrpc_runtime::Connection;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceExt};

use crate::stream::{self, Body, Sent};
use crate::wire;
use crate::wire::stream::{Signal, WINDOW};
use nrpc_wire::stream::INACTIVITY_TIMEOUT;

/// Who sent a request, as far as NATS tells: a request extension every
/// handler of an [`HttpServer`] can read (axum: `Extension<Remote>`).
/// NATS does not name a message's sender; what it carries is where the
/// answer goes and the message's own headers. Requests bridged by the
/// gateway carry `X-Forwarded-For` (the HTTP client's address) as well.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The subject the request came on (`<prefix>.requests.<host>.<method>`,
    /// or `.streams.` for a streamed body).
    pub subject: Subject,
    /// Where the answer goes: the caller's inbox. nrpc-http and async-nats
    /// callers get the answers of one connection under one prefix
    /// (`_INBOX.<connection>.…`), so it tells callers apart.
    pub reply: Subject,
    /// The request message's NATS headers: none from nrpc-http's client;
    /// `NRT-HostName`, `NRT-Method`, `NRT-Path` from nats-roundtripper's Go
    /// client; whatever a caller of its own adds.
    pub headers: Option<async_nats::HeaderMap>,
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The host or prefix cannot be served.
    #[error(transparent)]
    Wire(#[from] wire::WireError),
    /// The subscription failed.
    #[error("subscribing to {subject}: {message}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// Why.
        message: String,
    },
}

/// Sets up an [`HttpServer`].
#[derive(Debug)]
pub struct HttpServerBuilder {
    conn: Connection,
    host: String,
    prefix: String,
    max_concurrent: usize,
    version: String,
}

/// Serves an HTTP service over NATS.
#[derive(Debug)]
pub struct HttpServer;

impl HttpServer {
    /// A server of `host` (ending in `.nats`) on `conn`; the subject prefix
    /// is `NATS_PREFIX` if set, else `nrt` (as nrt's own servers).
    pub fn builder(conn: &Connection, host: &str) -> Result<HttpServerBuilder, wire::WireError> {
        Ok(HttpServerBuilder {
            conn: conn.clone(),
            host: wire::check_host(host)?,
            prefix: crate::prefix_from_env(),
            max_concurrent: 1024,
            version: "0.0.0".to_owned(),
        })
    }
}

impl HttpServerBuilder {
    /// The subject prefix (instead of `NATS_PREFIX` or `nrt`): canaries
    /// and environments by subject mapping.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The version discovery reports (`0.0.0`).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Requests handled at once (1024); one more is answered `503` at
    /// once.
    pub fn max_concurrent_requests(mut self, n: usize) -> Self {
        self.max_concurrent = n.max(1);
        self
    }

    /// Starts answering the host's requests with `service` until the
    /// handle is shut down.
    pub async fn serve<S, B>(self, service: S) -> Result<HttpServerHandle, ServeError>
    where
        S: Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
        S::Future: Send,
        S::Error: std::fmt::Display + Send,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Display + Send,
    {
        let nats = self.conn.nats().clone();
        let subscribe = |subject: String, queue: bool| {
            let nats = nats.clone();
            async move {
                let subscribed = if queue {
                    nats.queue_subscribe(subject.clone(), wire::QUEUE_GROUP.to_owned())
                        .await
                } else {
                    nats.subscribe(subject.clone()).await
                };
                subscribed.map_err(|e| ServeError::Subscribe {
                    subject,
                    message: e.to_string(),
                })
            }
        };
        let subject = wire::serve_subject(&self.prefix, &self.host)?;
        let mut requests = subscribe(subject.clone(), true).await?;
        let mut streams =
            subscribe(wire::serve_stream_subject(&self.prefix, &self.host)?, true).await?;
        let mut cancels =
            subscribe(wire::serve_cancel_subject(&self.prefix, &self.host)?, false).await?;
        let stop = CancellationToken::new();
        // In NATS services discovery, as one instance of the host.
        let counters = Arc::new(crate::discovery::Counters::default());
        let identity = crate::discovery::Identity {
            host: self.host.clone(),
            subject: subject.clone(),
            id: nuid::next().to_string(),
            version: self.version.clone(),
        };
        crate::discovery::answer(nats.clone(), identity, counters.clone(), stop.clone())
            .await
            .map_err(|message| ServeError::Subscribe {
                subject: "$SRV.>".to_owned(),
                message,
            })?;
        // The broker has the subscriptions before callers are told.
        self.conn
            .round_trip(Duration::from_secs(10))
            .await
            .map_err(|e| ServeError::Subscribe {
                subject,
                message: e.to_string(),
            })?;
        let slots = Arc::new(Semaphore::new(self.max_concurrent));
        let running = tokio_util::task::TaskTracker::new();
        let shared = Arc::new(Shared {
            conn: self.conn.clone(),
            host: self.host.as_str().into(),
            counters,
            in_flight: InFlight::default(),
            answerer: RwLock::new(Arc::new(answerer_now(&nats))),
        });
        let serving = {
            let (stop, running) = (stop.clone(), running.clone());
            tokio::spawn(async move {
                let mut spare = None;
                // Replies name the broker this instance is connected to:
                // looked at again every second.
                let mut look = tokio::time::interval(Duration::from_secs(1));
                look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    let (message, streamed) = tokio::select! {
                        () = stop.cancelled() => break,
                        _ = look.tick() => {
                            shared.refresh_answerer();
                            continue;
                        }
                        message = requests.next() => match message {
                            Some(message) => (message, false),
                            None => break,
                        },
                        message = streams.next() => match message {
                            Some(message) => (message, true),
                            None => break,
                        },
                        Some(cancel) = cancels.next() => {
                            shared.in_flight.cancel(&cancel.payload);
                            continue;
                        }
                    };
                    let Some(reply) = message.reply.clone() else {
                        continue;
                    };
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        let busy = status_reply(
                            &shared.answerer(),
                            http::StatusCode::SERVICE_UNAVAILABLE,
                            "the server is at its limit of requests in progress",
                        );
                        shared.counters.count(503, Duration::ZERO);
                        let _ = shared.conn.nats().publish(reply, busy).await;
                        continue;
                    };
                    let (shared, service) = (shared.clone(), service.clone());
                    let handling = running.track_future(async move {
                        shared.handle(service, message, reply, streamed).await;
                        drop(slot);
                    });
                    // The box of the last request answered here is used
                    // again (a request's future is a few KiB). Its finished
                    // future still counts in `running` until replaced or
                    // until this loop ends, which shutdown awaits first.
                    let mut handling = match spare.take() {
                        Some(mut done) => {
                            Pin::set(&mut done, handling);
                            done
                        }
                        None => Box::pin(handling),
                    };
                    // A handler that answers without waiting is answered
                    // right here, as a bare NATS loop would (no task per
                    // request: +15-25 % requests/s); one that waits goes on
                    // in a task of its own.
                    if futures::poll!(handling.as_mut()).is_pending() {
                        tokio::spawn(handling);
                    } else {
                        spare = Some(handling);
                    }
                }
                let _ = requests.unsubscribe().await;
                let _ = streams.unsubscribe().await;
                let _ = cancels.unsubscribe().await;
            })
        };
        Ok(HttpServerHandle {
            stop,
            running,
            serving,
            nats: self.conn.nats().clone(),
        })
    }
}

/// A reply with `status` and a text body.
fn status_reply(by: &wire::Answerer, status: http::StatusCode, text: &str) -> Bytes {
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = status;
    parts.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    wire::encode_response(&parts, by, format!("{text}\n").as_bytes())
}

/// Requests whose callers can cancel them (nrpc-http clients), by reply
/// subject.
#[derive(Debug, Default)]
struct InFlight(Mutex<HashMap<Bytes, CancellationToken>>);

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Bytes, CancellationToken>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The caller of the request answered on `reply` gave up.
    fn cancel(&self, reply: &Bytes) {
        if let Some(token) = self.lock().get(reply) {
            token.cancel();
        }
    }
}

/// Resolves when `cancel` (if any) is cancelled.
async fn cancelled(cancel: &Option<CancellationToken>) {
    match cancel {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

/// Removes a request from [`InFlight`] when it ends.
struct Registered<'a>(&'a InFlight, Bytes);

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.0.lock().remove(&self.1);
    }
}

/// What every request of one server shares.
#[derive(Debug)]
struct Shared {
    conn: Connection,
    host: Arc<str>,
    counters: Arc<crate::discovery::Counters>,
    in_flight: InFlight,
    /// How replies name this instance (`Nrt-*`), as of its broker.
    answerer: RwLock<Arc<wire::Answerer>>,
}

/// How replies name an instance on `nats`'s broker now (a new id prefix
/// for each broker connection).
fn answerer_now(nats: &async_nats::Client) -> wire::Answerer {
    let info = nats.server_info();
    let prefix = nuid::next();
    wire::Answerer::new(
        &info.server_name,
        info.client_id,
        info.cluster.as_deref(),
        &prefix,
    )
}

impl Shared {
    fn answerer(&self) -> Arc<wire::Answerer> {
        self.answerer
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Names this instance as its broker knows it now (after a reconnect,
    /// another broker or client id).
    fn refresh_answerer(&self) {
        let nats = self.conn.nats();
        let info = nats.server_info();
        if self
            .answerer()
            .says(&info.server_name, info.client_id, info.cluster.as_deref())
        {
            return;
        }
        *self
            .answerer
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(answerer_now(nats));
    }

    /// Answers one request (`streamed`: its body follows in chunks).
    async fn handle<S, B>(&self, service: S, message: Message, reply: Subject, streamed: bool)
    where
        S: Service<http::Request<Body>, Response = http::Response<B>>,
        S::Error: std::fmt::Display,
        B: http_body::Body<Data = Bytes>,
        B::Error: std::fmt::Display,
    {
        let started = tokio::time::Instant::now();
        let nats = self.conn.nats();
        let (mut request, hints) = match wire::decode_request(&message.payload) {
            Ok(decoded) => decoded,
            Err(e) => {
                let answer = status_reply(
                    &self.answerer(),
                    http::StatusCode::BAD_REQUEST,
                    &e.to_string(),
                );
                let _ = nats.publish(reply, answer).await;
                self.counters.count(400, started.elapsed());
                return;
            }
        };
        request.extensions_mut().insert(Remote {
            subject: message.subject,
            reply: reply.clone(),
            headers: message.headers,
        });
        let method = request.method().clone();
        let span = crate::span(
            crate::Side::Server,
            &self.host,
            &method,
            request.uri().path(),
        );
        crate::extract(&span, request.headers());
        let responding = self.respond(service, request, hints, &reply, streamed);
        let status = tracing::Instrument::instrument(responding, span.clone()).await;
        let took = started.elapsed();
        self.counters.count(status, took);
        let status = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
        crate::observe(
            crate::Side::Server,
            &span,
            &self.host,
            &method,
            status,
            took,
        );
    }

    /// Runs the service on `request` and sends its response to `reply`;
    /// returns the status (`499` if the caller gave up first).
    async fn respond<S, B>(
        &self,
        service: S,
        request: http::Request<Bytes>,
        hints: wire::Hints,
        reply: &Subject,
        streamed: bool,
    ) -> u16
    where
        S: Service<http::Request<Body>, Response = http::Response<B>>,
        S::Error: std::fmt::Display,
        B: http_body::Body<Data = Bytes>,
        B::Error: std::fmt::Display,
    {
        let nats = self.conn.nats();
        // What the broker takes now (it may change with a reconnect).
        let max_payload = nats.max_payload();
        let fail = |status: http::StatusCode, why: &str| {
            let answer = status_reply(&self.answerer(), status, why);
            async move {
                let _ = nats.publish(reply.clone(), answer).await;
                status.as_u16()
            }
        };
        // The caller's deadline, if it says one: the handler is dropped
        // (cancelled) when it passes.
        let deadline = hints.timeout_ms.map(Duration::from_millis);
        // An nrpc-http caller: it takes a streamed body, and may cancel.
        let takes_stream = hints.takes_stream;
        let (parts, body) = request.into_parts();
        let body = if streamed {
            let inbox = match self.conn.inbox(WINDOW as usize + 8) {
                Ok(inbox) => inbox,
                Err(e) => return fail(http::StatusCode::SERVICE_UNAVAILABLE, &e.to_string()).await,
            };
            let accept = Signal::Credit(u64::from(WINDOW));
            if stream::publish(nats, reply, accept, Some(inbox.subject()), Bytes::new())
                .await
                .is_err()
            {
                return 499;
            }
            stream::receive(nats.clone(), inbox, reply.clone())
        } else {
            Body::from(body)
        };
        let handling = service.oneshot(http::Request::from_parts(parts, body));
        let handled = async {
            match deadline {
                Some(left) => tokio::time::timeout(left, handling).await.ok(),
                None => Some(handling.await),
            }
        };
        let mut handled = std::pin::pin!(handled);
        // Most handlers answer when first polled; one that waits can be
        // cancelled by its caller, and is registered for that only then.
        let mut _registered = None;
        let mut cancel = None;
        let handled = match futures::poll!(handled.as_mut()) {
            std::task::Poll::Ready(handled) => handled,
            std::task::Poll::Pending => {
                if takes_stream {
                    let token = CancellationToken::new();
                    let key = Bytes::copy_from_slice(reply.as_bytes());
                    self.in_flight.lock().insert(key.clone(), token.clone());
                    _registered = Some(Registered(&self.in_flight, key));
                    cancel = Some(token);
                }
                tokio::select! {
                    () = cancelled(&cancel) => return 499,
                    handled = handled => handled,
                }
            }
        };
        let response = match handled {
            None => {
                return fail(
                    http::StatusCode::GATEWAY_TIMEOUT,
                    "the caller's deadline passed",
                )
                .await
            }
            Some(Err(e)) => {
                return fail(http::StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()).await
            }
            Some(Ok(response)) => response,
        };
        let (parts, body) = response.into_parts();
        let status = parts.status.as_u16();
        let whole = body
            .size_hint()
            .exact()
            .is_some_and(|n| n < max_payload as u64);
        if whole || !takes_stream {
            // A body of known length that fits, or a caller (nrt) that
            // takes nothing else: read whole, sent as one message.
            let body = tokio::select! {
                () = cancelled(&cancel) => return 499,
                body = body.collect() => match body {
                    Ok(collected) => collected.to_bytes(),
                    Err(e) => return fail(
                        http::StatusCode::INTERNAL_SERVER_ERROR,
                        &format!("the response body failed: {e}"),
                    )
                    .await,
                },
            };
            let answer = wire::encode_response(&parts, &self.answerer(), &body);
            if answer.len() <= max_payload {
                let _ = nats.publish(reply.clone(), answer).await;
                return status;
            }
            if takes_stream {
                // Its head made it too large: streamed after all.
                let body = Body::from(body);
                return Box::pin(self.stream_response(reply, &parts, body, &cancel)).await;
            }
            // Never dropped silently: the caller learns why.
            return fail(
                http::StatusCode::BAD_GATEWAY,
                &format!(
                    "the response ({} bytes) is larger than the broker's max_payload ({} bytes)",
                    answer.len(),
                    max_payload
                ),
            )
            .await;
        }
        // Boxed: its future would make every request's larger.
        Box::pin(self.stream_response(reply, &parts, body, &cancel)).await
    }

    /// Sends a response streamed: the head, then the body as it is
    /// produced; returns its status (`499` if the caller went away first).
    async fn stream_response<B>(
        &self,
        reply: &Subject,
        parts: &http::response::Parts,
        body: B,
        cancel: &Option<CancellationToken>,
    ) -> u16
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::fmt::Display,
    {
        let nats = self.conn.nats();
        let Ok(mut control) = self.conn.inbox(16) else {
            return 499;
        };
        let head = wire::encode_response_head(parts, &self.answerer());
        if stream::publish(nats, reply, Signal::Head, Some(control.subject()), head)
            .await
            .is_err()
        {
            return 499;
        }
        // The caller says where the chunks go, and how many may come.
        let go = tokio::select! {
            () = cancelled(cancel) => return 499,
            go = tokio::time::timeout(INACTIVITY_TIMEOUT, control.recv()) => go,
        };
        let Some((to, credit)) = go.ok().flatten().and_then(|go| match stream::signal(&go) {
            Ok(Signal::Credit(credit)) => Some((go.reply?, credit)),
            _ => None,
        }) else {
            return 499;
        };
        let chunk = wire::stream::chunk_size(nats.max_payload());
        let sending = stream::send(nats, &to, Bytes::new(), body, credit, chunk, &mut control);
        tokio::select! {
            () = cancelled(cancel) => {}
            sent = sending => if let Sent::Failed(why) = sent {
                tracing::debug!(host = %self.host, %why, "nrpc-http: a streamed response ended early");
            },
        }
        parts.status.as_u16()
    }
}

/// A running server: stop it with [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct HttpServerHandle {
    stop: CancellationToken,
    running: tokio_util::task::TaskTracker,
    serving: tokio::task::JoinHandle<()>,
    nats: async_nats::Client,
}

impl HttpServerHandle {
    /// Stops taking requests, lets those in progress answer (within
    /// `grace`), and flushes their replies.
    pub async fn shutdown(self, grace: Duration) {
        self.stop.cancel();
        let _ = self.serving.await;
        self.running.close();
        let _ = tokio::time::timeout(grace, self.running.wait()).await;
        let _ = tokio::time::timeout(grace, self.nats.flush()).await;
    }
}
