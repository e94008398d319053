//! [`CallOptions`]: per-call settings.

use std::time::Duration;

use async_nats::header::{HeaderName, HeaderValue};
use async_nats::HeaderMap;

use nrpc_wire::Encoding;

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
    pub(super) timeout: Option<Duration>,
    pub(super) headers: Option<HeaderMap>,
    pub(super) encoding: Option<Encoding>,
    /// Whether the timeout is sent as `Nrpc-Timeout` (not for
    /// fire-and-forget requests: nobody waits).
    pub(super) deadline_header: bool,
    pub(super) wait_for_ready: bool,
    /// For streams: when the whole stream must have ended.
    pub(super) stream_deadline: Option<Duration>,
    /// The first header that could not be added; the call fails with it.
    pub(super) invalid_header: Option<String>,
    /// A durable publish's idempotency key.
    pub(super) message_id: Option<String>,
}

impl CallOptions {
    /// Options that change nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The idempotency key of a durable publish (`Nats-Msg-Id`): the
    /// broker stores one message per key within the method's dedup
    /// window, so publishing again after a timeout or a crash is safe.
    /// Without one, the call's request id (or a fresh id) is used, which
    /// protects the retries within one call only.
    pub fn message_id(mut self, id: impl Into<String>) -> Self {
        self.message_id = Some(id.into());
        self
    }

    /// How long to wait for the reply; also sent to the server as the
    /// call's deadline (`Nrpc-Timeout`), which the handler sees and which
    /// ends it. Without a timeout, here or set on the client, the call waits
    /// [`DEFAULT_TIMEOUT`](super::DEFAULT_TIMEOUT) and the server learns no deadline (as in gRPC,
    /// where only a deadline the caller sets travels); a call that runs out
    /// of it cancels the handler instead.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds a metadata header (appended to any with the same name). An
    /// invalid name or value (see [`CallError::InvalidHeader`](super::CallError::InvalidHeader)) makes the
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
    /// stream fails with [`CallError::Timeout`](super::CallError::Timeout) and the server's handler is
    /// cancelled.
    pub fn stream_deadline(mut self, deadline: Duration) -> Self {
        self.stream_deadline = Some(deadline);
        self
    }

    /// Waits for a connection that is down (reconnecting) instead of
    /// failing at once with [`CallError::NotConnected`](super::CallError::NotConnected); the timeout still
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

    pub(super) fn with_deadline_header(mut self) -> Self {
        self.deadline_header = true;
        self
    }
}
