//! The client side: a [`Connection`] that routes every reply through one
//! inbox subscription, the per-call [`CallOptions`], and the
//! [`ServiceClient`] that generated clients wrap.

pub mod intercept;
pub(crate) mod router;
mod stream;

pub use intercept::{OutgoingCall, RetryPolicy};
pub use router::Connection;
use router::{Deadline, Outgoing, MANY_CAPACITY};
pub use stream::ReplyStream;

use std::sync::Arc;
use std::time::Duration;

use async_nats::header::{HeaderName, HeaderValue};
use async_nats::{HeaderMap, Message, StatusCode, Subject};
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::time::Instant;
use tracing::{Instrument, Span};

use nrpc_wire::address::method_subject;
use nrpc_wire::route;
use nrpc_wire::subject::{prefixed, validate_literal, validate_token};
use nrpc_wire::{
    headers, Code, Encoding, ErrorFrame, InvalidToken, MethodSpec, ServiceSpec, SharedSpec, Status,
};

use crate::codec::{Codec, DecodeError};
use crate::observe::{self, MethodMetrics};
use crate::Response;

/// Timeout of a call without an explicit one (nRPC's Go client uses 5 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a call failed.
///
/// [`Status`](CallError::Status) is an answer from the server; every other
/// variant is the client's own observation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The server answered with an error.
    #[error("{0}")]
    Status(Status),
    /// No reply arrived within the call's timeout.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// Nobody subscribes to the subject (reported by the NATS server at once).
    #[error("no responders on {subject}")]
    NoResponders {
        /// The request subject.
        subject: String,
    },
    /// The request is larger than the server's `max_payload`; nothing was sent.
    #[error("request of {size} bytes exceeds the server's max_payload of {max} bytes")]
    PayloadTooLarge {
        /// Encoded size of payload and headers.
        size: usize,
        /// The NATS server's limit.
        max: usize,
    },
    /// A subject parameter would change the subject's meaning; nothing was sent.
    #[error(transparent)]
    InvalidSubject(#[from] InvalidToken),
    /// The request could not be encoded.
    #[error("request encoding failed: {0}")]
    Encode(Status),
    /// The reply could not be decoded (or broke the protocol); the
    /// decoder's error is the source.
    #[error("undecodable reply: {0}")]
    Decode(#[source] DecodeError),
    /// The NATS connection is closed.
    #[error("connection closed")]
    Closed,
    /// The NATS connection is down (reconnecting); the request was not
    /// sent. Retry later, or opt into waiting with
    /// [`CallOptions::wait_for_ready`].
    #[error("the NATS connection is down; the request was not sent")]
    NotConnected,
    /// The NATS connection dropped after the request was sent and before
    /// its reply arrived: the server may or may not have handled it.
    #[error("the NATS connection dropped while waiting for the reply; the outcome is unknown")]
    ConnectionLost,
    /// Stream items were lost on the way (the peer had sent more than
    /// arrived, e.g. across a broker restart); the stream ended at once.
    #[error("stream items were lost: {sent} sent, {arrived} arrived")]
    DataLoss {
        /// Items that arrived.
        arrived: u64,
        /// Items the peer says it sent.
        sent: u64,
    },
    /// A metadata header name or value is not valid in NATS headers (a
    /// name with spaces, `:` or non-ASCII; a value with CR or LF); nothing
    /// was sent.
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    /// A peer without flow control (e.g. a Go nRPC server) sent stream items
    /// faster than they were read; the call was ended rather than buffer
    /// without bound.
    #[error("replies arrived faster than they were read; the call was ended")]
    Overrun,
    /// The service has no method of this index (a tool's mistake; generated
    /// clients never make it); nothing was sent.
    #[error("the service has no method number {index}")]
    UnknownMethod {
        /// The index asked for.
        index: usize,
    },
}

impl CallError {
    /// The status code that best describes the failure, as gRPC clients
    /// report transport failures: the server's code for
    /// [`Status`](Self::Status), `DEADLINE_EXCEEDED` for a timeout,
    /// `UNAVAILABLE` when the call could not reach a server or its answer
    /// could not come back, `INVALID_ARGUMENT` for calls refused before
    /// sending, `RESOURCE_EXHAUSTED` for sizes, `DATA_LOSS`, `INTERNAL`
    /// for undecodable replies.
    pub fn code(&self) -> Code {
        match self {
            CallError::Status(s) => s.code(),
            CallError::Timeout(_) => Code::DeadlineExceeded,
            CallError::NoResponders { .. }
            | CallError::Closed
            | CallError::NotConnected
            | CallError::ConnectionLost => Code::Unavailable,
            CallError::PayloadTooLarge { .. } | CallError::Overrun => Code::ResourceExhausted,
            CallError::InvalidSubject(_) | CallError::InvalidHeader(_) | CallError::Encode(_) => {
                Code::InvalidArgument
            }
            CallError::Decode(_) => Code::Internal,
            CallError::DataLoss { .. } => Code::DataLoss,
            CallError::UnknownMethod { .. } => Code::Unimplemented,
        }
    }

    /// Whether the call timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, CallError::Timeout(_))
    }

    /// The remote status, if the server answered with an error.
    pub fn status(&self) -> Option<&Status> {
        match self {
            CallError::Status(s) => Some(s),
            _ => None,
        }
    }
}

impl From<CallError> for Status {
    /// Lets a handler that calls another service use `?`.
    fn from(e: CallError) -> Status {
        match e {
            CallError::Status(s) => s,
            CallError::Timeout(_) => Status::deadline_exceeded(e.to_string()),
            CallError::NoResponders { .. }
            | CallError::Closed
            | CallError::NotConnected
            | CallError::ConnectionLost => Status::unavailable(e.to_string()),
            CallError::InvalidHeader(_) => Status::internal(e.to_string()),
            CallError::DataLoss { .. } => Status::data_loss(e.to_string()),
            CallError::PayloadTooLarge { .. } | CallError::Overrun => {
                Status::resource_exhausted(e.to_string())
            }
            CallError::InvalidSubject(_) => Status::invalid_argument(e.to_string()),
            CallError::Encode(s) => s,
            CallError::Decode(_) => Status::internal(e.to_string()),
            CallError::UnknownMethod { .. } => Status::unimplemented(e.to_string()),
        }
    }
}

/// Per-call settings; unset fields fall back to the client's defaults.
///
/// ```
/// use std::time::Duration;
/// use nrpc_runtime::{CallOptions, Encoding};
/// let opts = CallOptions::new()
///     .timeout(Duration::from_millis(250))
///     .header("Tenant", "acme")
///     .encoding(Encoding::Json);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    timeout: Option<Duration>,
    headers: Option<HeaderMap>,
    encoding: Option<Encoding>,
    /// Whether the timeout is sent as `Nrpc-Timeout` (not for
    /// fire-and-forget requests: nobody waits).
    deadline_header: bool,
    wait_for_ready: bool,
    /// For streams: when the whole stream must have ended.
    stream_deadline: Option<Duration>,
    /// The first header that could not be added; the call fails with it.
    invalid_header: Option<String>,
}

impl CallOptions {
    /// Options that change nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long to wait for the reply; also sent to the server as the
    /// call's deadline (`Nrpc-Timeout`), which the handler sees and which
    /// ends it. Without a timeout, here or set on the client, the call waits
    /// [`DEFAULT_TIMEOUT`] and the server learns no deadline (as in gRPC,
    /// where only a deadline the caller sets travels); a call that runs out
    /// of it cancels the handler instead.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds a metadata header (appended to any with the same name). An
    /// invalid name or value (see [`CallError::InvalidHeader`]) makes the
    /// call fail before anything is sent.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (name.parse::<HeaderName>(), value.parse::<HeaderValue>()) {
            (Ok(n), Ok(v)) => self.headers.get_or_insert_with(HeaderMap::new).append(n, v),
            _ if self.invalid_header.is_some() => {}
            (Err(_), _) => self.invalid_header = Some(format!("name {name:?}")),
            (_, Err(_)) => self.invalid_header = Some(format!("value of {name} {value:?}")),
        }
        self
    }

    /// For stream calls: the whole stream must end within `deadline` (the
    /// timeout bounds only the silence between messages); past it the
    /// stream fails with [`CallError::Timeout`] and the server's handler is
    /// cancelled.
    pub fn stream_deadline(mut self, deadline: Duration) -> Self {
        self.stream_deadline = Some(deadline);
        self
    }

    /// Waits for a connection that is down (reconnecting) instead of
    /// failing at once with [`CallError::NotConnected`]; the timeout still
    /// bounds the call, waiting included (gRPC's "wait for ready").
    pub fn wait_for_ready(mut self) -> Self {
        self.wait_for_ready = true;
        self
    }

    /// Replaces all metadata headers.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = Some(headers);
        self
    }

    /// The payload encoding.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = Some(encoding);
        self
    }

    fn with_deadline_header(mut self) -> Self {
        self.deadline_header = true;
        self
    }
}

/// Per-service client state that generated clients wrap: the connection,
/// the precomputed subject prefix and the default call options.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    conn: Connection,
    spec: SharedSpec,
    params: Vec<String>,
    prefix: String,
    /// Per method without params: its protobuf subject, made once.
    subjects: Arc<[Option<Subject>]>,
    /// Set by the user: sent as the call's deadline.
    timeout: Option<Duration>,
    encoding: Encoding,
    headers: Option<HeaderMap>,
    /// Set for direct calls to one instance.
    instance: Option<String>,
    /// Per method (feature `metrics`).
    metrics: Arc<[MethodMetrics]>,
    broadcast_via: BroadcastVia,
}

impl ServiceClient {
    /// A client for `spec`; `params` are the package params followed by the
    /// service params, each checked to be a single subject token.
    pub fn new(
        conn: Connection,
        spec: impl Into<SharedSpec>,
        params: &[&str],
    ) -> Result<Self, InvalidToken> {
        let spec = spec.into();
        let package_subject = prefixed(conn.subject_prefix(), &spec.package_subject);
        let prefix = spec.client_prefix(Some(&package_subject), params)?;
        Ok(Self {
            conn,
            params: params.iter().map(|p| (*p).to_owned()).collect(),
            subjects: plain_subjects(&spec, &prefix),
            prefix,
            timeout: None,
            encoding: Encoding::Protobuf,
            headers: None,
            instance: None,
            metrics: observe::method_metrics("client", &spec).into(),
            broadcast_via: BroadcastVia::default(),
            spec,
        })
    }

    /// Replaces the package subject (e.g. to talk to servers generated by a
    /// generator that computes a different package prefix; may be empty).
    pub fn set_package_subject(&mut self, package_subject: &str) -> Result<(), InvalidToken> {
        validate_literal("package subject", package_subject)?;
        let package_subject = prefixed(self.conn.subject_prefix(), package_subject);
        let params: Vec<&str> = self.params.iter().map(String::as_str).collect();
        self.prefix = self.spec.client_prefix(Some(&package_subject), &params)?;
        self.subjects = plain_subjects(&self.spec, &self.prefix);
        Ok(())
    }

    /// Sends every call to the instance `id` only (its NATS services id,
    /// from discovery or a broadcast reply), bypassing the queue group.
    pub fn set_instance(&mut self, id: &str) -> Result<(), InvalidToken> {
        validate_token("instance id", id)?;
        self.instance = Some(id.to_owned());
        Ok(())
    }

    /// Sets the subject broadcasts go to (see [`BroadcastVia`]; a call's
    /// [`BroadcastOptions::via`] overrides it).
    pub fn set_broadcast_via(&mut self, via: BroadcastVia) {
        self.broadcast_via = via;
    }

    /// Sets the timeout of calls that set none, sent to the server as
    /// their deadline (see [`CallOptions::timeout`]).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = Some(timeout);
    }

    /// Sets the default encoding.
    pub fn set_encoding(&mut self, encoding: Encoding) {
        self.encoding = encoding;
    }

    /// Sets headers sent with every call (per-call headers are added).
    pub fn set_headers(&mut self, headers: HeaderMap) {
        self.headers = Some(headers);
    }

    /// The connection the calls go through.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The subject prefix in use, e.g. `root.default.custom_subject`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Method `index` of the spec and its metrics: an index the spec does
    /// not have is an error, never a panic.
    fn method(&self, index: usize) -> Result<(&MethodSpec, &MethodMetrics), CallError> {
        match (self.spec.methods.get(index), self.metrics.get(index)) {
            (Some(method), Some(metrics)) => Ok((method, metrics)),
            _ => Err(CallError::UnknownMethod { index }),
        }
    }

    /// The full subject of a method call.
    pub fn subject(
        &self,
        method: usize,
        method_params: &[&str],
        encoding: Encoding,
    ) -> Result<String, CallError> {
        let (spec, _) = self.method(method)?;
        Ok(method_subject(&self.prefix, spec, method_params, encoding)?)
    }

    /// Subject, encoded payload, headers and timeout of one call.
    pub(super) fn prepare<Req: Codec>(
        &self,
        method: usize,
        method_params: &[&str],
        request: &Req::Item,
        options: CallOptions,
        route: Route,
    ) -> Result<Prepared, CallError> {
        let timeout = options.timeout.or(self.timeout);
        // The deadline bounds the whole call, from here; only a timeout the
        // user chose is announced (the default is a safety net).
        let deadline = Deadline {
            announce: options.deadline_header && timeout.is_some(),
            wait_for_ready: options.wait_for_ready,
            ..Deadline::after(timeout.unwrap_or(DEFAULT_TIMEOUT))
        };
        if let Some(bad) = options.invalid_header {
            return Err(CallError::InvalidHeader(bad));
        }
        let encoding = options.encoding.unwrap_or(self.encoding);
        let cached = match (route, &self.instance, encoding) {
            (Route::Default, None, Encoding::Protobuf) | (Route::Plain, _, Encoding::Protobuf)
                if method_params.is_empty() =>
            {
                self.subjects.get(method).cloned().flatten()
            }
            _ => None,
        };
        let subject: Subject = match cached {
            // The usual case, a load-balanced call, builds nothing.
            Some(subject) => subject,
            None => {
                let plain = self.subject(method, method_params, encoding)?;
                let wire = match (route, &self.instance) {
                    (Route::Default, None) | (Route::Plain, _) => route::Route::Shared,
                    (Route::Default, Some(id)) => route::Route::Direct(id),
                    (Route::Broadcast, _) => route::Route::Broadcast,
                };
                wire.subject(&plain)?.into()
            }
        };
        let payload = Req::encode(request, encoding).map_err(CallError::Encode)?;
        let headers = match (&self.headers, options.headers) {
            (None, h) => h,
            (Some(base), None) => Some(base.clone()),
            (Some(base), Some(extra)) => {
                let mut h = base.clone();
                for (name, values) in extra.iter() {
                    for v in values {
                        h.append(name.clone(), v.clone());
                    }
                }
                Some(h)
            }
        };
        // Every call gets a span and, when it is recorded, a request id,
        // then runs the connection's interceptors.
        let mut headers = headers.unwrap_or_default();
        let (spec_method, _) = self.method(method)?;
        let span = observe::client_span(&self.spec, spec_method);
        observe::tag_request(&span, &mut headers);
        for intercept in self.conn.interceptors() {
            intercept(&mut OutgoingCall {
                spec: &self.spec,
                method: spec_method,
                subject: &subject,
                headers: &mut headers,
            })
            .map_err(CallError::Status)?;
        }
        // No headers, no HPUB: what Go peers send too.
        let mut headers = (!headers.is_empty()).then_some(headers);
        observe::inject(&span, &mut headers);
        Ok(Prepared {
            out: Outgoing {
                subject,
                headers,
                payload,
                deadline,
            },
            encoding,
            stream_deadline: options.stream_deadline,
            span,
        })
    }

    /// Performs a unary call of method number `method`.
    pub async fn unary<Req: Codec, Resp: Codec>(
        &self,
        method: usize,
        method_params: &[&str],
        request: &Req::Item,
        options: Option<CallOptions>,
    ) -> Result<Response<Resp::Item>, CallError> {
        let options = options.unwrap_or_default().with_deadline_header();
        let p = self.prepare::<Req>(method, method_params, request, options, Route::Default)?;
        let span = p.span.clone();
        let (_, metrics) = self.method(method)?;
        metrics.started();
        let started = Instant::now();
        let result = self
            .attempts::<Resp>(method, p)
            .instrument(span.clone())
            .await;
        metrics.stopped();
        let code = result.as_ref().err().map(CallError::code);
        metrics.handled(code, started.elapsed());
        observe::record(&span, code, started);
        result
    }

    /// Sends a prepared request/reply call, again while the connection's
    /// retry policy allows.
    async fn attempts<Resp: Codec>(
        &self,
        method: usize,
        p: Prepared,
    ) -> Result<Response<Resp::Item>, CallError> {
        let retry = self.conn.retry().filter(|policy| {
            self.method(method)
                .is_ok_and(|(m, _)| policy.covers(&self.spec, m))
        });
        let Some(policy) = retry else {
            let msg = self.conn.request(p.out).await?;
            return decode_reply::<Resp>(msg, p.encoding);
        };
        let mut attempt = 1;
        loop {
            let result = match self.conn.request(p.out.clone()).await {
                Ok(msg) => decode_reply::<Resp>(msg, p.encoding),
                Err(e) => Err(e),
            };
            let err = match result {
                Err(e) => e,
                ok => return ok,
            };
            attempt += 1;
            let Some(wait) = policy.backoff_before(attempt, &err) else {
                return Err(err);
            };
            // The deadline bounds the retries too.
            if Instant::now() + wait >= p.out.deadline.at {
                return Err(err);
            }
            tracing::debug!(attempt, "nrpc: retrying after {err}");
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends a fire-and-forget request (nRPC `NoReply`): nothing is awaited
    /// and the server never answers.
    pub async fn send<Req: Codec>(
        &self,
        method: usize,
        method_params: &[&str],
        request: &Req::Item,
        options: Option<CallOptions>,
    ) -> Result<(), CallError> {
        let options = options.unwrap_or_default();
        let p = self.prepare::<Req>(method, method_params, request, options, Route::Default)?;
        let (_, metrics) = self.method(method)?;
        let started = Instant::now();
        let result = self.conn.publish(p.out).instrument(p.span.clone()).await;
        let code = result.as_ref().err().map(CallError::code);
        metrics.handled(code, started.elapsed());
        observe::record(&p.span, code, started);
        result
    }

    /// Calls method `method` on every live instance at once and streams
    /// their replies, each with the answering instance's id. The stream ends
    /// after `max_replies`, at the overall timeout, after `idle_gap` without
    /// a reply, or at once when no instance exists;
    /// [`Broadcast::end`] says which.
    pub async fn broadcast<Req: Codec, Resp: Codec>(
        &self,
        method: usize,
        method_params: &[&str],
        request: &Req::Item,
        options: BroadcastOptions,
    ) -> Result<Broadcast<Resp::Item>, CallError> {
        let BroadcastOptions {
            call,
            max_replies,
            idle_gap,
            via,
        } = options;
        let call = call.with_deadline_header();
        let route = match via.unwrap_or(self.broadcast_via) {
            BroadcastVia::RoutingPrefix => Route::Broadcast,
            BroadcastVia::MethodSubject => Route::Plain,
        };
        let p = self.prepare::<Req>(method, method_params, request, call, route)?;
        let deadline = p.out.deadline.at;
        let replies = self
            .conn
            .request_many(p.out, MANY_CAPACITY)
            .instrument(p.span)
            .await?;
        let end = Arc::new(std::sync::Mutex::new(None));
        let state = (
            replies,
            max_replies.unwrap_or(usize::MAX),
            p.encoding,
            end.clone(),
        );
        let stream = futures::stream::unfold(
            state,
            move |(mut replies, left, encoding, end)| async move {
                let finish = |why| {
                    *end.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
                    None
                };
                if left == 0 {
                    return finish(BroadcastEnd::MaxReplies);
                }
                let quiet = Instant::now() + idle_gap;
                let msg =
                    match tokio::time::timeout_at(deadline.min(quiet), replies.rx.recv()).await {
                        Err(_) if deadline <= quiet => return finish(BroadcastEnd::Deadline),
                        Err(_) => return finish(BroadcastEnd::IdleGap),
                        Ok(None) => return finish(BroadcastEnd::Closed),
                        Ok(Some(msg)) => msg,
                    };
                if msg.status == Some(StatusCode::NO_RESPONDERS) {
                    return finish(BroadcastEnd::NoResponders);
                }
                let instance = crate::message::header(&msg, headers::INSTANCE)
                    .unwrap_or_default()
                    .to_owned();
                let result = decode_reply::<Resp>(msg, encoding);
                Some((
                    BroadcastReply { instance, result },
                    (replies, left - 1, encoding, end),
                ))
            },
        );
        Ok(Broadcast {
            replies: stream.boxed(),
            end,
        })
    }

    /// Calls a streamed-reply method and yields its items in order. The
    /// stream ends after the server's end frame (whose item count is
    /// checked); an error ends it too. The call's timeout is the inactivity
    /// timeout: with no message (items or keepalives) for that long the
    /// stream fails with [`CallError::Timeout`]. Dropping the stream
    /// cancels the server's handler.
    pub async fn server_stream<Req: Codec, Resp: Codec>(
        &self,
        method: usize,
        method_params: &[&str],
        request: &Req::Item,
        options: Option<CallOptions>,
    ) -> Result<ReplyStream<Resp::Item>, CallError> {
        let options = options.unwrap_or_default();
        let p = self.prepare::<Req>(method, method_params, request, options, Route::Default)?;
        Ok(stream::begin(&self.conn, p).await?.into_stream::<Resp>())
    }

    /// Calls a method whose requests stream (client-streaming or
    /// bidirectional; nrpc extension): `requests` are sent within the credit
    /// the server grants, then the end of input; the server's replies stream
    /// back as with [`server_stream`](Self::server_stream).
    pub async fn open_stream<Req: Codec, Resp: Codec>(
        &self,
        method: usize,
        method_params: &[&str],
        requests: BoxStream<'static, Req::Item>,
        options: Option<CallOptions>,
    ) -> Result<ReplyStream<Resp::Item>, CallError> {
        let options = options.unwrap_or_default();
        let p = self.prepare::<crate::codec::Void>(
            method,
            method_params,
            &(),
            options,
            Route::Default,
        )?;
        let mut stream = stream::begin(&self.conn, p).await?;
        stream.upload::<Req>(requests).await?;
        Ok(stream.into_stream::<Resp>())
    }

    /// Publishes an event of method `method` (nRPC `NoRequest`) on its subject.
    pub async fn publish_event<T: Codec>(
        &self,
        method: usize,
        method_params: &[&str],
        event: &T::Item,
    ) -> Result<(), CallError> {
        self.send::<T>(method, method_params, event, None).await
    }

    /// Subscribes to the events of method `method` (nRPC `NoRequest`), in
    /// `queue_group` if given (then each event reaches one member).
    pub async fn subscribe_events<T: Codec>(
        &self,
        method: usize,
        method_params: &[&str],
        queue_group: Option<&str>,
    ) -> Result<BoxStream<'static, Result<T::Item, CallError>>, CallError> {
        let encoding = self.encoding;
        let subject = self.subject(method, method_params, encoding)?;
        let nats = self.conn.nats();
        let sub = match queue_group {
            Some(q) => nats.queue_subscribe(subject, q.to_owned()).await,
            None => nats.subscribe(subject).await,
        }
        .map_err(|_| CallError::Closed)?;
        // Events published after this returns, from any connection, must
        // reach the subscription: the server has registered it once a
        // message through it to ourselves has come back.
        self.conn
            .round_trip(self.timeout.unwrap_or(DEFAULT_TIMEOUT))
            .await?;
        Ok(sub
            .map(move |msg| T::decode(msg.payload, encoding).map_err(CallError::Decode))
            .boxed())
    }
}

/// The protobuf subject of each method of `spec` without params.
fn plain_subjects(spec: &ServiceSpec, prefix: &str) -> Arc<[Option<Subject>]> {
    spec.methods
        .iter()
        .map(|m| {
            let none: &[&str] = &[];
            (m.params.is_empty())
                .then(|| method_subject(prefix, m, none, Encoding::Protobuf).ok())
                .flatten()
                .map(Subject::from)
        })
        .collect()
}

/// Which subjects a call goes to.
#[derive(Debug, Clone, Copy)]
pub(super) enum Route {
    /// The queue-group subject, or the chosen instance's.
    Default,
    /// Every instance (`_NRPC.all.`).
    Broadcast,
    /// The method subject itself, whatever instance the client is set to
    /// (Go nRPC's Poll).
    Plain,
}

/// A call ready to be sent, the encoding of its answer, (streams) when it
/// must have ended, and its span.
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) out: Outgoing,
    pub(super) encoding: Encoding,
    pub(super) stream_deadline: Option<Duration>,
    pub(super) span: Span,
}

/// Turns a reply into the message or the status it carries.
fn decode_reply<Resp: Codec>(
    msg: Message,
    encoding: Encoding,
) -> Result<Response<Resp::Item>, CallError> {
    let code = crate::message::code(&msg);
    let metadata = msg.headers.unwrap_or_default();
    if let Some(frame) = ErrorFrame::decode(encoding, &msg.payload)
        .map_err(|e| CallError::Decode(DecodeError::from_source(e)))?
    {
        return Err(CallError::Status(frame.into_status(code)));
    }
    let message = Resp::decode(msg.payload, encoding).map_err(CallError::Decode)?;
    Ok(Response::from_parts(message, metadata))
}

/// Boxes a request stream (generated code takes any `Stream`).
pub fn boxed<T, S>(requests: S) -> BoxStream<'static, T>
where
    S: futures::Stream<Item = T> + Send + 'static,
{
    requests.boxed()
}

/// The one reply of a client-streaming call: the first item, which must be
/// followed by the end of the stream.
pub async fn single_reply<T>(mut replies: ReplyStream<T>) -> Result<T, CallError> {
    let reply = match replies.next().await {
        Some(reply) => reply?,
        None => {
            return Err(CallError::Decode(DecodeError::new(
                "the server sent no reply",
            )))
        }
    };
    match replies.next().await {
        None => Ok(reply),
        Some(Err(e)) => Err(e),
        Some(Ok(_)) => Err(CallError::Decode(DecodeError::new(
            "the server sent more than one reply",
        ))),
    }
}

/// One instance's answer to a broadcast call.
#[derive(Debug)]
pub struct BroadcastReply<T> {
    /// The answering instance (its NATS services id); use it for direct
    /// calls with `with_instance`.
    pub instance: String,
    /// Its reply.
    pub result: Result<Response<T>, CallError>,
}

/// Settings of a broadcast call.
#[derive(Debug, Clone)]
pub struct BroadcastOptions {
    call: CallOptions,
    max_replies: Option<usize>,
    idle_gap: Duration,
    /// `None`: the client's choice.
    via: Option<BroadcastVia>,
}

/// Which subject a broadcast goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BroadcastVia {
    /// `_NRPC.all.<subject>`, which every nrpc server instance subscribes
    /// without a queue group: each instance answers once, even when the
    /// instances share a queue group for ordinary calls. The default.
    #[default]
    RoutingPrefix,
    /// The method subject itself, as Go nRPC's `Poll` does: reaches every
    /// Go nRPC server (they subscribe without a queue group) and nrpc
    /// servers run with `no_queue_group()`; servers in a queue group answer
    /// once per group.
    MethodSubject,
}

/// Why a broadcast's stream of replies ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastEnd {
    /// `max_replies` replies arrived.
    MaxReplies,
    /// The overall deadline passed.
    Deadline,
    /// No reply arrived for the idle gap.
    IdleGap,
    /// Nobody subscribes to the subject (reported at once).
    NoResponders,
    /// The connection closed.
    Closed,
}

/// The replies of a broadcast call, as they arrive; after the last one,
/// [`end`](Self::end) says why the stream ended.
pub struct Broadcast<T> {
    replies: BoxStream<'static, BroadcastReply<T>>,
    end: Arc<std::sync::Mutex<Option<BroadcastEnd>>>,
}

impl<T> Broadcast<T> {
    /// Why the stream ended; `None` while it goes on.
    pub fn end(&self) -> Option<BroadcastEnd> {
        *self.end.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> std::fmt::Debug for Broadcast<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcast")
            .field("end", &self.end())
            .finish_non_exhaustive()
    }
}

impl<T> futures::Stream for Broadcast<T> {
    type Item = BroadcastReply<T>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.replies.poll_next_unpin(cx)
    }
}

/// How long a broadcast waits for one more reply unless told otherwise.
pub const DEFAULT_IDLE_GAP: Duration = Duration::from_secs(1);

impl Default for BroadcastOptions {
    fn default() -> Self {
        Self {
            call: CallOptions::default(),
            max_replies: None,
            idle_gap: DEFAULT_IDLE_GAP,
            via: None,
        }
    }
}

impl BroadcastOptions {
    /// Defaults: the client's timeout as overall deadline, no reply limit,
    /// [`DEFAULT_IDLE_GAP`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop after this many replies.
    pub fn max_replies(mut self, n: usize) -> Self {
        self.max_replies = Some(n);
        self
    }

    /// Stop when no reply arrives for this long (counted from the request,
    /// then from each reply).
    pub fn idle_gap(mut self, gap: Duration) -> Self {
        self.idle_gap = gap;
        self
    }

    /// Overall deadline (also sent to the servers).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.call = self.call.timeout(timeout);
        self
    }

    /// Per-call headers and encoding.
    pub fn call_options(mut self, call: CallOptions) -> Self {
        self.call = call;
        self
    }

    /// The subject to broadcast on, instead of the client's choice
    /// (`with_broadcast_via`; default [`BroadcastVia::RoutingPrefix`]).
    pub fn via(mut self, via: BroadcastVia) -> Self {
        self.via = Some(via);
        self
    }
}
