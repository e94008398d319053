//! The client side: a [`Connection`] that routes every reply through one
//! inbox subscription, the per-call [`CallOptions`], and the
//! [`ServiceClient`] that generated clients wrap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::{HeaderMap, Message, StatusCode};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::oneshot;

use crate::codec::Codec;
use crate::status::{Code, Status};
use crate::wire::subject::method_subject;
use crate::wire::{headers, Encoding, ErrorFrame, InvalidToken, ServiceSpec};

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
    /// The reply could not be decoded.
    #[error("undecodable reply: {0}")]
    Decode(String),
    /// The NATS connection is closed.
    #[error("connection closed")]
    Closed,
}

impl CallError {
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
            CallError::NoResponders { .. } | CallError::Closed => {
                Status::unavailable(e.to_string())
            }
            CallError::PayloadTooLarge { .. } => Status::resource_exhausted(e.to_string()),
            CallError::InvalidSubject(_) => Status::invalid_argument(e.to_string()),
            CallError::Encode(s) => s,
            CallError::Decode(_) => Status::internal(e.to_string()),
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
}

impl CallOptions {
    /// Options that change nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long to wait for the reply; also sent to the server as the
    /// call's deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds a metadata header (appended to any with the same name).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .get_or_insert_with(HeaderMap::new)
            .append(name, value);
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
}

/// A reply with its metadata headers.
#[derive(Debug, Clone)]
pub struct Response<T> {
    message: T,
    metadata: HeaderMap,
}

impl<T> Response<T> {
    /// A response without metadata.
    pub fn new(message: T) -> Self {
        Self {
            message,
            metadata: HeaderMap::new(),
        }
    }

    /// Adds a metadata header (builder style, for handlers).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.metadata.append(name, value);
        self
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// The metadata headers.
    pub fn metadata(&self) -> &HeaderMap {
        &self.metadata
    }

    /// Mutable metadata headers.
    pub fn metadata_mut(&mut self) -> &mut HeaderMap {
        &mut self.metadata
    }

    /// The message, without metadata.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// Message and metadata.
    pub fn into_parts(self) -> (T, HeaderMap) {
        (self.message, self.metadata)
    }
}

struct Router {
    /// `None` once the inbox subscription has ended: the connection is closed.
    pending: Mutex<Option<HashMap<u64, oneshot::Sender<Message>>>>,
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
/// or the caller dropping the future).
struct PendingGuard<'a> {
    router: &'a Router,
    token: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Some(map) = lock(&self.router.pending).as_mut() {
            map.remove(&self.token);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
                let tx = lock(&task_router.pending)
                    .as_mut()
                    .and_then(|m| m.remove(&token));
                if let Some(tx) = tx {
                    // The caller may have given up in the meantime.
                    let _ = tx.send(msg);
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

    /// Calls waiting for a reply right now.
    pub fn pending_calls(&self) -> usize {
        lock(&self.inner.router.pending)
            .as_ref()
            .map_or(0, HashMap::len)
    }

    /// Sends `payload` to `subject` and waits for one reply.
    pub async fn request(
        &self,
        subject: String,
        headers: Option<HeaderMap>,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Message, CallError> {
        let nats = &self.inner.nats;
        let max = nats.max_payload();
        let size = payload.len() + headers.as_ref().map_or(0, header_size);
        if max > 0 && size > max {
            return Err(CallError::PayloadTooLarge { size, max });
        }
        let token = self.inner.next_token.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        match lock(&self.inner.router.pending).as_mut() {
            Some(map) => map.insert(token, tx),
            None => return Err(CallError::Closed),
        };
        let _guard = PendingGuard {
            router: &self.inner.router,
            token,
        };
        let mut reply = String::with_capacity(self.inner.inbox_prefix.len() + 20);
        reply.push_str(&self.inner.inbox_prefix);
        reply.push_str(&token.to_string());
        // Subjects built from a String are not copied again on publish.
        let subject = async_nats::Subject::from(subject);
        let reply = async_nats::Subject::from(reply);
        let sent = match headers {
            Some(h) => {
                nats.publish_with_reply_and_headers(subject.clone(), reply, h, payload)
                    .await
            }
            None => {
                nats.publish_with_reply(subject.clone(), reply, payload)
                    .await
            }
        };
        if let Err(e) = sent {
            return Err(match e.kind() {
                async_nats::client::PublishErrorKind::MaxPayloadExceeded => {
                    CallError::PayloadTooLarge { size, max }
                }
                _ => CallError::Closed,
            });
        }
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
}

/// Bytes the headers take on the wire (`NATS/1.0\r\n`, lines, `\r\n`).
fn header_size(h: &HeaderMap) -> usize {
    let mut n = 12;
    for (name, values) in h.iter() {
        for v in values {
            n += AsRef::<[u8]>::as_ref(name).len() + 2 + v.as_str().len() + 2;
        }
    }
    n
}

/// Per-service client state that generated clients wrap: the connection,
/// the precomputed subject prefix and the default call options.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    conn: Connection,
    spec: &'static ServiceSpec,
    params: Vec<String>,
    prefix: String,
    timeout: Duration,
    encoding: Encoding,
    headers: Option<HeaderMap>,
}

impl ServiceClient {
    /// A client for `spec`; `params` are the package params followed by the
    /// service params, each checked to be a single subject token.
    pub fn new(
        conn: Connection,
        spec: &'static ServiceSpec,
        params: &[&str],
    ) -> Result<Self, InvalidToken> {
        let prefix = spec.client_prefix(None, params)?;
        Ok(Self {
            conn,
            spec,
            params: params.iter().map(|p| (*p).to_owned()).collect(),
            prefix,
            timeout: DEFAULT_TIMEOUT,
            encoding: Encoding::Protobuf,
            headers: None,
        })
    }

    /// Replaces the package subject (e.g. to talk to servers generated by a
    /// generator that computes a different package prefix; may be empty).
    pub fn set_package_subject(&mut self, package_subject: &str) -> Result<(), InvalidToken> {
        for token in package_subject
            .split('.')
            .filter(|_| !package_subject.is_empty())
        {
            crate::wire::subject::validate_token("package subject", token)?;
        }
        let params: Vec<&str> = self.params.iter().map(String::as_str).collect();
        self.prefix = self.spec.client_prefix(Some(package_subject), &params)?;
        Ok(())
    }

    /// Sets the default timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sets the default encoding.
    pub fn set_encoding(&mut self, encoding: Encoding) {
        self.encoding = encoding;
    }

    /// Sets headers sent with every call (per-call headers are added).
    pub fn set_headers(&mut self, headers: HeaderMap) {
        self.headers = Some(headers);
    }

    /// The subject prefix in use, e.g. `root.default.custom_subject`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The full subject of a method call.
    pub fn subject(
        &self,
        method: usize,
        method_params: &[&str],
        encoding: Encoding,
    ) -> Result<String, InvalidToken> {
        method_subject(
            &self.prefix,
            &self.spec.methods[method],
            method_params,
            encoding,
        )
    }

    /// Performs a unary call of method number `method`.
    pub async fn unary<Req: Codec, Resp: Codec>(
        &self,
        method: usize,
        method_params: &[&str],
        request: &Req::Item,
        options: Option<CallOptions>,
    ) -> Result<Response<Resp::Item>, CallError> {
        let options = options.unwrap_or_default();
        let encoding = options.encoding.unwrap_or(self.encoding);
        let timeout = options.timeout.unwrap_or(self.timeout);
        let subject = self.subject(method, method_params, encoding)?;
        let payload = Req::encode(request, encoding).map_err(CallError::Encode)?;
        let mut headers = match (&self.headers, options.headers) {
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
        headers
            .get_or_insert_with(HeaderMap::new)
            .insert(headers::TIMEOUT, timeout.as_millis().to_string().as_str());
        let msg = self
            .conn
            .request(subject, headers, payload, timeout)
            .await?;
        let metadata = msg.headers.unwrap_or_default();
        if let Some(frame) = ErrorFrame::decode(encoding, &msg.payload)
            .map_err(|s| CallError::Decode(s.message().to_owned()))?
        {
            let code = metadata
                .get(headers::CODE)
                .and_then(|v| v.as_str().parse().ok())
                .and_then(Code::from_i32);
            return Err(CallError::Status(frame.into_status(code)));
        }
        let message = Resp::decode(msg.payload, encoding).map_err(CallError::Decode)?;
        Ok(Response { message, metadata })
    }
}
