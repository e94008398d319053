//! Client middleware, set on a [`Connection`](super::Connection) so every
//! client made from it (generated or not) gets it: interceptors that see
//! and change each outgoing call (auth headers, refusing calls), and a
//! [`RetryPolicy`] for the methods the user says are safe to repeat.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use async_nats::{HeaderMap, HeaderName, HeaderValue};
use nrpc_wire::{Code, MethodSpec, ServiceSpec, Status};

use super::error::CallError;

/// What an interceptor sees of a call about to be sent.
#[derive(Debug)]
pub struct OutgoingCall<'a> {
    pub(super) spec: &'a ServiceSpec,
    pub(super) method: &'a MethodSpec,
    pub(super) subject: &'a str,
    pub(super) headers: &'a mut HeaderMap,
}

impl OutgoingCall<'_> {
    /// The full name of the service, e.g. `greeter.v1.Greeter`.
    pub fn service(&self) -> &str {
        &self.spec.name
    }

    /// The method's name, e.g. `SayHello`.
    pub fn method(&self) -> &str {
        &self.method.name
    }

    /// The subject the call goes to.
    pub fn subject(&self) -> &str {
        self.subject
    }

    /// The call's headers so far.
    pub fn metadata(&self) -> &HeaderMap {
        self.headers
    }

    /// Sets a header (replacing any of that name); an invalid name or
    /// value is an error, not a panic.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), Status> {
        let name: HeaderName = name
            .parse()
            .map_err(|_| Status::internal(format!("interceptor: invalid header name {name:?}")))?;
        let value: HeaderValue = value
            .parse()
            .map_err(|_| Status::internal(format!("interceptor: invalid value for {name}")))?;
        self.headers.insert(name, value);
        Ok(())
    }
}

/// An interceptor: runs for every call before it is sent; an `Err` fails
/// the call with that status ([`CallError::Status`]) and nothing is sent.
pub(crate) type Interceptor =
    Arc<dyn Fn(&mut OutgoingCall<'_>) -> Result<(), Status> + Send + Sync>;

/// Retries for request/reply calls of the methods marked idempotent: a
/// call that failed without an answer it could act on (the connection
/// was down or dropped, nobody served the subject, or the server was too
/// busy) is sent again after an exponential backoff with jitter, as long
/// as its deadline allows. The request id stays the same, so servers can
/// recognise a repeat. Streams and fire-and-forget calls are never retried.
///
/// ```
/// use std::time::Duration;
/// use nrpc_runtime::RetryPolicy;
/// let policy = RetryPolicy::new()
///     .max_attempts(4)
///     .backoff(Duration::from_millis(20), Duration::from_millis(500))
///     .idempotent("orders.v1.Orders", "GetOrder")
///     .idempotent_service("catalog.v1.Catalog");
/// # let _ = policy;
/// ```
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    /// (service, method); `None` for every method of the service.
    safe: Vec<(String, Option<String>)>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl RetryPolicy {
    /// Three attempts, backoff from 50 ms up to 1 s; no method marked yet.
    pub fn new() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            safe: Vec::new(),
        }
    }

    /// Attempts in all, the first included (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The first backoff and the most any backoff grows to.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Marks one method (service by full name, method by its `.proto`
    /// name) as safe to repeat.
    pub fn idempotent(mut self, service: &str, method: &str) -> Self {
        self.safe
            .push((service.to_owned(), Some(method.to_owned())));
        self
    }

    /// Marks every method of a service as safe to repeat.
    pub fn idempotent_service(mut self, service: &str) -> Self {
        self.safe.push((service.to_owned(), None));
        self
    }

    /// Whether calls of `method` of `spec` are retried.
    pub(super) fn covers(&self, spec: &ServiceSpec, method: &MethodSpec) -> bool {
        self.safe.iter().any(|(service, m)| {
            **service == *spec.name && m.as_ref().is_none_or(|m| **m == *method.name)
        })
    }

    /// How long to wait before attempt `attempt` (2, 3, …), if another
    /// attempt is allowed after `err`.
    pub(super) fn backoff_before(&self, attempt: u32, err: &CallError) -> Option<Duration> {
        if attempt > self.max_attempts || !retryable(err) {
            return None;
        }
        let doublings = attempt.saturating_sub(2).min(20);
        let base = self
            .initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        // Full jitter over the upper half: callers that failed together do
        // not come back together.
        let random = std::collections::hash_map::RandomState::new().hash_one(attempt);
        let half = base / 2;
        let jitter = half.mul_f64((random % 1000) as f64 / 1000.0);
        Some(half + jitter)
    }
}

/// Failures after which the request certainly did not complete, or (for
/// methods marked idempotent) may simply be repeated.
fn retryable(err: &CallError) -> bool {
    match err {
        CallError::NotConnected | CallError::NoResponders { .. } | CallError::ConnectionLost => {
            true
        }
        CallError::Status(s) => s.code() == Code::Unavailable,
        _ => false,
    }
}
