//! Calling HTTP services over NATS: `http(s)://<host>.nats/…` requests as
//! a `tower::Service`, with answers NATS knows made HTTP-shaped at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use nrpc_runtime::async_nats::{self, Message, StatusCode, Subject};
use nrpc_runtime::{CallError, Connection, Inbox};
use tokio::time::Instant;

use crate::stream::{self, Body, BodyError, Sent};
use crate::wire;
use crate::wire::stream::{Signal, WINDOW};

/// Why a request could not be made: the URL names no `.nats` host, its
/// body failed, or the response's body did not arrive whole. Everything
/// NATS can answer is a response instead: no responders `503`, timeout
/// `504`, too large for the broker `413`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL cannot be reached over NATS.
    #[error(transparent)]
    Wire(#[from] wire::WireError),
    /// The request's body failed.
    #[error("the request body failed: {0}")]
    Body(String),
    /// The response's body did not arrive whole.
    #[error("the response body did not arrive whole: {0}")]
    Response(#[from] BodyError),
}

/// An HTTP client over NATS; cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    conn: Connection,
    prefix: String,
    timeout: Duration,
}

impl HttpClient {
    /// A client on `conn`; the subject prefix is `NATS_PREFIX` if set,
    /// else `nrt`; requests time out after 30 s (as nrt's).
    pub fn new(conn: &Connection) -> Self {
        HttpClient {
            conn: conn.clone(),
            prefix: crate::prefix_from_env(),
            timeout: Duration::from_secs(30),
        }
    }

    /// The subject prefix (instead of `NATS_PREFIX` or `nrt`).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a request waits for its response's head (then `504`). A
    /// body streamed after it has no deadline: it ends when the server
    /// ends it, fails or goes silent.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `GET url`, its body read whole.
    pub async fn get(&self, url: &str) -> Result<http::Response<Bytes>, ClientError> {
        self.send(request(http::Method::GET, url, Bytes::new())?)
            .await
    }

    /// `POST url` with `body`, the response's body read whole.
    pub async fn post(
        &self,
        url: &str,
        body: impl Into<Bytes>,
    ) -> Result<http::Response<Bytes>, ClientError> {
        self.send(request(http::Method::POST, url, body.into())?)
            .await
    }

    /// Sends `request` to the `.nats` host its URL names and reads the
    /// response's body whole.
    pub async fn send<B>(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<Bytes>, ClientError>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::fmt::Display,
    {
        let (parts, body) = self.stream(request).await?.into_parts();
        Ok(http::Response::from_parts(parts, body.bytes().await?))
    }

    /// Sends `request` to the `.nats` host its URL names; the response's
    /// body arrives as the service produces it (server-sent events). A
    /// request body too large for one message is streamed to an nrpc-http
    /// server (an nrt server answers `413`).
    pub async fn stream<B>(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<Body>, ClientError>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::fmt::Display,
    {
        let host: std::sync::Arc<str> = wire::nats_host(request.uri())?.into();
        let method = request.method().clone();
        let span = crate::span(crate::Side::Client, &host, &method, request.uri().path());
        let started = std::time::Instant::now();
        let exchange = self.exchange(&host, request, &span);
        let response = tracing::Instrument::instrument(exchange, span.clone()).await?;
        let took = started.elapsed();
        let status = response.status();
        crate::observe(crate::Side::Client, &span, &host, &method, status, took);
        Ok(response)
    }

    /// The request to `host` and its answer.
    async fn exchange<B>(
        &self,
        host: &str,
        request: http::Request<B>,
        span: &tracing::Span,
    ) -> Result<http::Response<Body>, ClientError>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::fmt::Display,
    {
        let (mut parts, body) = request.into_parts();
        crate::inject(span, &mut parts.headers);
        // How long the caller waits, and that it takes a streamed reply, as
        // HTTP headers of the request: an nrpc-http server stops the handler
        // at the deadline (Go servers pass both on to the handler).
        let hints = wire::Hints {
            timeout_ms: Some(self.timeout.as_millis().min(u128::from(u64::MAX)) as u64),
            takes_stream: true,
        };
        let deadline = Instant::now() + self.timeout;
        let max_payload = self.conn.nats().max_payload();
        // As much of the body as one message could carry.
        let mut body = std::pin::pin!(body);
        // One frame is kept as it is; several are gathered.
        let (mut first, mut gathered) = (Bytes::new(), None::<BytesMut>);
        let complete = loop {
            match body.frame().await {
                None => break true,
                Some(Err(e)) => return Err(ClientError::Body(e.to_string())),
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let len = match (&mut gathered, first.is_empty()) {
                        (None, true) => {
                            first = data;
                            first.len()
                        }
                        (None, false) => {
                            let mut all = BytesMut::from(std::mem::take(&mut first));
                            all.extend_from_slice(&data);
                            gathered.insert(all).len()
                        }
                        (Some(all), _) => {
                            all.extend_from_slice(&data);
                            all.len()
                        }
                    };
                    if body.is_end_stream() {
                        break true;
                    }
                    if len > max_payload {
                        break false;
                    }
                }
            }
        };
        if let Some(all) = gathered {
            first = all.freeze();
        }
        if complete {
            let payload = wire::encode_request(&parts, host, &hints, &first);
            if payload.len() <= max_payload {
                // A plain message: NATS headers cost both sides on every
                // request, and nrt's (NRT-HostName, -Method, -Path) are
                // informational only. The connection's request cancels
                // the handler if the caller gives up.
                let subject = wire::request_subject(&self.prefix, host, &parts.method)?;
                let reply = self
                    .conn
                    .request_message(subject.into(), payload, self.timeout)
                    .await
                    .map_err(Failed::from);
                return Ok(self.response(host, reply, None).await);
            }
        }
        // Too large for one message: streamed, to nrpc-http servers only.
        let subject = wire::stream_subject(&self.prefix, host, &parts.method)?;
        let head = wire::encode_request_head(&parts, host, &hints);
        let mut exchange = match self.start(subject, head).await {
            Ok(exchange) => exchange,
            Err(failed) => return Ok(failure(host, failed)),
        };
        let accept = match exchange.reply(deadline).await {
            Ok(accept) => accept,
            Err(Failed::NoResponders(_)) => {
                let size = if complete { "" } else { "at least " };
                return Ok(answer(
                    http::StatusCode::PAYLOAD_TOO_LARGE,
                    &format!(
                        "the request ({size}{} bytes) is larger than the broker's max_payload \
                         ({max_payload} bytes), and no server of {host} takes streamed bodies \
                         (nats-roundtripper servers do not)",
                        first.len()
                    ),
                ));
            }
            Err(failed) => return Ok(failure(host, failed)),
        };
        let (credit, to) = match (stream::signal(&accept), accept.reply.clone()) {
            (Ok(Signal::Credit(credit)), Some(to)) => (credit, to),
            // Answered without taking the body (busy, refused).
            _ => return Ok(exchange.finish(self, host, Ok(accept)).await),
        };
        let nats = self.conn.nats().clone();
        let chunk = wire::stream::chunk_size(max_payload);
        let inbox = &mut exchange.inbox;
        let sending = stream::send(&nats, &to, first, body, credit, chunk, inbox);
        let reply = match tokio::time::timeout_at(deadline, sending).await {
            Err(_) => Err(Failed::Timeout),
            Ok(Sent::Interrupted(reply)) => Ok(reply),
            Ok(Sent::Done | Sent::Cancelled) => exchange.reply(deadline).await,
            Ok(Sent::Failed(e)) => return Err(ClientError::Body(e)),
        };
        Ok(exchange.finish(self, host, reply).await)
    }

    /// Publishes the head of a streamed request; its answers come to an
    /// inbox of its own.
    async fn start(&self, subject: String, head: Bytes) -> Result<Exchange, Failed> {
        let inbox = self
            .conn
            .inbox(WINDOW as usize + 8)
            .map_err(|e| Failed::Closed(e.to_string()))?;
        let nats = self.conn.nats();
        nats.publish_with_reply(subject.clone(), inbox.subject().clone(), head)
            .await
            .map_err(|e| Failed::Closed(e.to_string()))?;
        Ok(Exchange {
            abandon: Abandon {
                nats: nats.clone(),
                armed: true,
                subject,
                reply: inbox.subject().clone(),
            },
            inbox,
        })
    }

    /// The response `reply` makes. A streamed head is answered with the
    /// subject its body goes to: `inbox`, or a new one.
    async fn response(
        &self,
        host: &str,
        reply: Result<Message, Failed>,
        inbox: Option<Inbox>,
    ) -> http::Response<Body> {
        let reply = match reply {
            Ok(reply) => reply,
            Err(failed) => return failure(host, failed),
        };
        let decoded = match stream::signal(&reply) {
            Ok(Signal::Whole) => wire::decode_response(&reply.payload).map(|r| r.map(Body::from)),
            Ok(Signal::Head) => match (wire::decode_response(&reply.payload), reply.reply) {
                (Ok(head), Some(control)) => {
                    let inbox = match inbox.map_or_else(|| self.conn.inbox(WINDOW as usize + 8), Ok)
                    {
                        Ok(inbox) => inbox,
                        Err(e) => return answer(http::StatusCode::BAD_GATEWAY, &e.to_string()),
                    };
                    // Where the chunks go, and how many may come.
                    let nats = self.conn.nats();
                    let go = Signal::Credit(u64::from(WINDOW));
                    if let Err(e) =
                        stream::publish(nats, &control, go, Some(inbox.subject()), Bytes::new())
                            .await
                    {
                        return answer(http::StatusCode::BAD_GATEWAY, &e);
                    }
                    let body = stream::receive(nats.clone(), inbox, control);
                    return head.map(|_| body);
                }
                (Ok(_), None) => Err(wire::WireError::Response(
                    "a streamed head without a reply subject".to_owned(),
                )),
                (Err(e), _) => Err(e),
            },
            Ok(other) => Err(wire::WireError::Response(format!(
                "{other:?} where a response was due"
            ))),
            Err(e) => Err(wire::WireError::Response(e.to_string())),
        };
        decoded.unwrap_or_else(|e| answer(http::StatusCode::BAD_GATEWAY, &e.to_string()))
    }
}

/// Why no answer came.
#[derive(Debug)]
enum Failed {
    /// Not by the deadline.
    Timeout,
    /// Nothing listens on the subject.
    NoResponders(String),
    /// The connection failed.
    Closed(String),
}

impl From<CallError> for Failed {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Timeout(_) => Failed::Timeout,
            CallError::NoResponders { subject } => Failed::NoResponders(subject),
            other => Failed::Closed(other.to_string()),
        }
    }
}

/// The response when no answer came.
fn failure(host: &str, failed: Failed) -> http::Response<Body> {
    match failed {
        Failed::Timeout => answer(
            http::StatusCode::GATEWAY_TIMEOUT,
            &format!("no answer from {host} in time"),
        ),
        Failed::NoResponders(subject) => answer(
            http::StatusCode::SERVICE_UNAVAILABLE,
            &format!("nothing serves {host} (no responders on {subject})"),
        ),
        Failed::Closed(why) => answer(http::StatusCode::BAD_GATEWAY, &why),
    }
}

/// A streamed request in progress.
struct Exchange {
    /// Where its answers arrive.
    inbox: Inbox,
    abandon: Abandon,
}

impl Exchange {
    /// The next message that is not flow control (credit heartbeats of a
    /// server reading our body), by `deadline`.
    async fn reply(&mut self, deadline: Instant) -> Result<Message, Failed> {
        loop {
            let message = match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
                Err(_) => return Err(Failed::Timeout),
                Ok(None) => return Err(Failed::Closed("the connection closed".to_owned())),
                Ok(Some(message)) => message,
            };
            if message.status == Some(StatusCode::NO_RESPONDERS) {
                self.abandon.armed = false;
                return Err(Failed::NoResponders(message.subject.to_string()));
            }
            match stream::signal(&message) {
                Ok(Signal::Credit(_)) if message.reply.is_none() => {}
                Ok(Signal::Sent(_)) => {}
                _ => return Ok(message),
            }
        }
    }

    /// The response `reply` makes (a streamed body comes to this inbox).
    async fn finish(
        mut self,
        client: &HttpClient,
        host: &str,
        reply: Result<Message, Failed>,
    ) -> http::Response<Body> {
        if reply.is_ok() {
            self.abandon.armed = false;
        }
        client.response(host, reply, Some(self.inbox)).await
    }
}

/// Cancels a request whose caller gave up before its answer (dropped the
/// call, or its deadline passed): its reply subject to `_NRPC.cancel.` +
/// its subject, where nrpc-http servers drop the handler (nrt servers do
/// not listen). Costs nothing for requests that are answered.
struct Abandon {
    nats: async_nats::Client,
    /// Whether the cancel is owed (until the answer).
    armed: bool,
    subject: String,
    reply: Subject,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(cancel) = nrpc_wire::route::cancel_subject(&self.subject) else {
            return;
        };
        let (nats, reply) = (self.nats.clone(), self.reply.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = nats.publish(cancel, Bytes::from(reply.to_string())).await;
                // Out before this handle, maybe the client's last, goes.
                let _ = nats.flush().await;
            });
        }
    }
}

fn request(
    method: http::Method,
    url: &str,
    body: Bytes,
) -> Result<http::Request<Full<Bytes>>, ClientError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| wire::WireError::NoHost(url.to_owned()))?;
    let mut request = http::Request::new(Full::new(body));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    Ok(request)
}

/// A response the client makes itself: `status` and why.
fn answer(status: http::StatusCode, why: &str) -> http::Response<Body> {
    let mut response = http::Response::new(Body::from(Bytes::from(format!("{why}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The client as a tower service: responses' bodies arrive as the service
/// produces them (as [`HttpClient::stream`]).
impl<B> tower::Service<http::Request<B>> for HttpClient
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::fmt::Display + Send,
{
    type Response = http::Response<Body>;
    type Error = ClientError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ClientError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let client = self.clone();
        Box::pin(async move { client.stream(request).await })
    }
}
