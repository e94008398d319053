//! What both front doors (gRPC, HTTP/JSON) share: from a path, the
//! request's headers and its parameters to a method of a known service, a
//! client for it and the call's options; and failures, with the status each
//! door reports them as.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use futures::stream::{BoxStream, StreamExt};
use nrpc_runtime::{CallError, CallOptions, Code, MethodSpec, ServiceClient, Status};
use nrpc_wire::grpc::{is_transport_header, subject_params, Incoming};

use tokio_util::sync::CancellationToken;

use crate::catalog::Target;
use crate::Shared;

/// Why a call through the gateway failed: a code and a message for the
/// caller, and the HTTP status where the code's is not the best one (404
/// for an unknown service or method, which gRPC answers `UNIMPLEMENTED`;
/// 413 for a body over the limit).
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) code: Code,
    pub(crate) message: String,
    pub(crate) http: Option<u16>,
    /// When the caller may try again (`Retry-After`), if it is known.
    pub(crate) retry_after: Option<std::time::Duration>,
}

impl Failure {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            http: None,
            retry_after: None,
        }
    }

    /// What a caller learns of a service or method that is not there, or
    /// not exposed: the same.
    pub(crate) fn unknown(what: &str, name: &str) -> Self {
        Failure::new(Code::Unimplemented, format!("no {what} {name:?}")).with_http(404)
    }

    pub(crate) fn with_retry_after(mut self, after: std::time::Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// `Retry-After`'s value: whole seconds, rounded up.
    pub(crate) fn retry_after_header(&self) -> Option<http::HeaderValue> {
        let after = self.retry_after?;
        let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        Some(http::HeaderValue::from(seconds.max(1)))
    }

    /// A request that did not arrive within its call's deadline.
    pub(crate) fn late_request() -> Self {
        Failure::new(
            Code::DeadlineExceeded,
            "the request did not arrive within the call's deadline",
        )
        .with_http(408)
    }

    pub(crate) fn with_http(mut self, status: u16) -> Self {
        self.http = Some(status);
        self
    }

    /// The HTTP status: the one set, else the code's
    /// (`Code::service_error_code`, the one table nrpc uses).
    pub(crate) fn http_status(&self) -> http::StatusCode {
        let number = self.http.unwrap_or(self.code.service_error_code());
        http::StatusCode::from_u16(number).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The JSON error body: `{"error":{"code":<http>,"status":"NOT_FOUND","message":…}}`.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "code": self.http_status().as_u16(),
                "status": self.code.as_str(),
                "message": self.message,
            }
        })
    }

    pub(crate) fn grpc(&self) -> tonic::Status {
        let mut status: tonic::Status = Status::new(self.code, self.message.clone()).into();
        if let Some(value) = self.retry_after_header() {
            if let Ok(value) = value.to_str().unwrap_or_default().parse() {
                status.metadata_mut().insert("retry-after", value);
            }
        }
        status
    }
}

impl From<nrpc_reflect::Error> for Failure {
    fn from(e: nrpc_reflect::Error) -> Self {
        use nrpc_reflect::Error as E;
        let (code, unknown) = match &e {
            E::UnknownService(_) | E::UnknownMethod(_) => (Code::Unimplemented, true),
            E::InvalidJson(_) => (Code::InvalidArgument, false),
            E::NoSchema(_) | E::Undescribed(_) | E::Proto(_) => (Code::Unimplemented, false),
            E::InvalidSchema(_) | E::InvalidReply(_) => (Code::Internal, false),
            E::Conflict(_) => (Code::Unavailable, false),
            E::Discovery(c) => (c.code(), false),
        };
        Failure {
            code,
            message: e.to_string(),
            http: unknown.then_some(404),
            retry_after: None,
        }
    }
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Status(s) => Failure::new(s.code(), s.message()),
            // Too large for the broker: no retry will fit (413, not 429).
            e @ CallError::PayloadTooLarge { .. } => {
                Failure::new(e.code(), e.to_string()).with_http(413)
            }
            other => Failure::new(other.code(), other.to_string()),
        }
    }
}

/// A call ready to go: the method, its client and options.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) target: Arc<Target>,
    conn: nrpc_runtime::Connection,
    pub(crate) index: usize,
    service_values: Vec<String>,
    pub(crate) method_values: Vec<String>,
    instance: Option<String>,
    pub(crate) options: CallOptions,
    /// When the call's deadline passes (reading its request counts).
    pub(crate) deadline: tokio::time::Instant,
}

impl Prepared {
    /// The method called (the index came from the target's own spec).
    pub(crate) fn method(&self) -> &MethodSpec {
        &self.target.service.spec.methods[self.index]
    }

    /// The client to call with: the target's own, or one for these
    /// parameters or this instance.
    pub(crate) fn client(&self) -> Result<Cow<'_, ServiceClient>, Failure> {
        let invalid =
            |e: nrpc_runtime::InvalidToken| Failure::new(Code::InvalidArgument, e.to_string());
        let mut client = match (&self.target.client, self.service_values.is_empty()) {
            (Some(c), true) => Cow::Borrowed(c),
            _ => {
                let values: Vec<&str> = self.service_values.iter().map(String::as_str).collect();
                Cow::Owned(
                    ServiceClient::new(
                        self.conn.clone(),
                        self.target.service.spec.clone(),
                        &values,
                    )
                    .map_err(invalid)?,
                )
            }
        };
        if let Some(id) = &self.instance {
            client.to_mut().set_instance(id).map_err(invalid)?;
        }
        Ok(client)
    }

    /// Whether the method is declared to have no side effects
    /// (`option idempotency_level = NO_SIDE_EFFECTS;`).
    pub(crate) fn has_no_side_effects(&self) -> bool {
        use nrpc_runtime::prost_types::method_options::IdempotencyLevel;
        let spec = &self.target.service.spec;
        self.target
            .service
            .pool
            .get_service_by_name(&spec.name)
            .and_then(|s| {
                s.methods()
                    .find(|m| m.name() == self.method().name.as_ref())
            })
            .and_then(|m| m.method_descriptor_proto().options.clone())
            .is_some_and(|o| o.idempotency_level() == IdempotencyLevel::NoSideEffects)
    }

    /// The call's options, its timeout what is left of the deadline.
    pub(crate) fn options_now(&self) -> CallOptions {
        let left = self
            .deadline
            .saturating_duration_since(tokio::time::Instant::now());
        self.options.clone().timeout(left)
    }

    /// Reads the request within the call's deadline: a body that does not
    /// arrive in time fails the call (`408`/`DEADLINE_EXCEEDED`).
    pub(crate) async fn read<T>(
        &self,
        reading: impl std::future::Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        tokio::time::timeout_at(self.deadline, reading)
            .await
            .map_err(|_| Failure::late_request())?
    }

    pub(crate) fn method_params(&self) -> Vec<&str> {
        self.method_values.iter().map(String::as_str).collect()
    }
}

/// Prepares a call of `service`/`method`: `positional` parameter values
/// (HTTP path segments after the method) fill the package, service and
/// method parameters in order, then `named` ones (query, `nrpc-param-*`
/// headers) fill the rest; `headers` give the deadline, the instance and
/// the metadata that travels on.
pub(crate) async fn prepare(
    shared: &Shared,
    service: &str,
    method: &str,
    positional: Vec<String>,
    mut named: Vec<(String, String)>,
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
) -> Result<Prepared, Failure> {
    let peer = peer(extensions);
    // Who calls, before anything is looked up for them.
    let caller = match &shared.auth {
        Some(auth) => auth.authenticate(headers, extensions)?,
        // Without authentication, a verified client certificate still says
        // who calls.
        None => extensions
            .get::<crate::auth::ClientCertificate>()
            .map(|c| c.0.clone()),
    };
    if let (Some(caller), Some(audit)) = (&caller, extensions.get::<crate::audit::Caller>()) {
        audit.set(&caller.caller.subject);
    }
    let forward_credentials = shared.options.forward_credentials;
    let headers = headers
        .iter()
        .filter(|(name, _)| forward_credentials || !is_credential(name.as_str()))
        .map(|(name, value)| (name.as_str(), value.to_str().ok()));
    let Incoming {
        timeout: deadline,
        params,
        instance,
        metadata,
    } = Incoming::sort(headers).map_err(|e| Failure::new(Code::InvalidArgument, e.to_string()))?;
    named.extend(params);
    let mut options = CallOptions::new();
    let timeout = deadline.map_or(shared.options.default_timeout, |d| {
        d.min(shared.options.max_timeout)
    });
    let exposure = shared.catalog.exposure();
    if !exposure.service(service) {
        return Err(Failure::unknown("service", service));
    }
    // Learning the service counts against the call's deadline.
    let started = tokio::time::Instant::now();
    let target = tokio::time::timeout(timeout, shared.catalog.find(service))
        .await
        .map_err(|_| {
            Failure::new(
                Code::DeadlineExceeded,
                format!("the deadline passed while learning {service} from discovery"),
            )
        })?
        .map_err(|e| match e {
            // Its message names the services there are, exposed or not.
            nrpc_reflect::Error::UnknownService(_) if !exposure.is_everything() => {
                Failure::unknown("service", service)
            }
            e => e.into(),
        })?;
    let (index, spec) = target.service.method(method)?;
    if !exposure.method(&target.service.spec.name, &spec.name) {
        return Err(Failure::unknown("method", method));
    }
    if let Some(auth) = &shared.auth {
        let who = caller.as_ref().map(|v| &v.caller);
        auth.authorize(who, &target.service.spec.name, &spec.name)?;
    }
    let subject = caller.as_ref().map(|v| v.caller.subject.as_str());
    if let Some(limits) = &shared.limits {
        limits.check(subject, peer, &target.service.spec.name, &spec.name)?;
    }
    if let (Some(in_progress), Some(holder)) = (
        &shared.in_progress,
        extensions.get::<crate::limit::SlotHolder>(),
    ) {
        holder.hold(in_progress.enter(subject, peer)?);
    }
    let service_spec = &target.service.spec;
    for (name, value) in metadata {
        options = options.header(&name, &value);
    }
    if let Some(verified) = &caller {
        options = options.header(nrpc_wire::caller::HEADER, &verified.header);
    }
    options = options.timeout(timeout.saturating_sub(started.elapsed()));
    if deadline.is_some() && spec.kind.is_stream() {
        options = options.stream_deadline(timeout);
    }

    let mut values = subject_params(service_spec, index, positional, named)
        .map_err(|e| Failure::new(Code::InvalidArgument, e.bridged()))?;
    let method_values =
        values.split_off(service_spec.package_params.len() + service_spec.service_params.len());
    Ok(Prepared {
        target,
        conn: shared.catalog.connection().clone(),
        index,
        service_values: values,
        method_values,
        instance,
        options,
        deadline: started + timeout,
    })
}

/// The client's address, when the server recorded it.
pub(crate) fn peer(extensions: &http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<crate::Peer>>()
        .map(|info| info.0 .0.ip())
}

/// Whether a request header (lower case) is a credential of the caller's.
fn is_credential(name: &str) -> bool {
    matches!(name, "authorization" | "cookie" | "x-api-key")
}

/// A reply's NATS headers as HTTP headers (gRPC metadata): the protocol's
/// own and names or values HTTP cannot carry stay behind.
pub(crate) fn reply_headers(nats: &nrpc_runtime::HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::new();
    for (name, values) in nats.iter() {
        let name: &str = name.as_ref();
        if nrpc_wire::grpc::is_protocol_header(name) {
            continue;
        }
        let Ok(http_name) = http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
        else {
            continue;
        };
        if is_transport_header(http_name.as_str()) {
            continue;
        }
        for v in values {
            if let Ok(v) = http::HeaderValue::from_str(v.as_str()) {
                out.append(http_name.clone(), v);
            }
        }
    }
    out
}

/// The first bad item of a request stream (a JSON line that does not
/// encode, a gRPC message over the limit): it ends the input and fails the
/// call, which must not take a cut input for the whole.
#[derive(Debug, Clone, Default)]
pub(crate) struct BadInput {
    token: CancellationToken,
    failure: Arc<Mutex<Option<Failure>>>,
}

impl BadInput {
    pub(crate) fn set(&self, failure: Failure) {
        let mut slot = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(failure);
        self.token.cancel();
    }

    pub(crate) fn failure(&self) -> Failure {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| Failure::new(Code::InvalidArgument, "the request stream failed"))
    }

    pub(crate) fn check(&self) -> Result<(), Failure> {
        if self.token.is_cancelled() {
            Err(self.failure())
        } else {
            Ok(())
        }
    }

    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The one reply of a client-streaming call whose input this watches:
    /// a bad input fails the call, whatever the service answered.
    pub(crate) async fn single_reply(
        &self,
        replies: nrpc_runtime::ReplyStream<bytes::Bytes>,
    ) -> Result<bytes::Bytes, Failure> {
        let reply = tokio::select! {
            reply = nrpc_runtime::client::single_reply(replies) => reply,
            _ = self.token.cancelled() => return Err(self.failure()),
        };
        self.check()?;
        Ok(reply?)
    }
}

/// Events forwarded to one subscriber, held to `max_bytes` in the gateway:
/// the subscription is read as fast as NATS delivers (so nothing piles up
/// in the NATS client), and a subscriber that falls `max_bytes` behind —
/// it stopped reading — is cut off: after what was buffered its stream ends
/// with `RESOURCE_EXHAUSTED`, and the subscription is dropped.
pub(crate) fn bounded_events(
    mut events: BoxStream<'static, Result<bytes::Bytes, CallError>>,
    max_bytes: usize,
) -> BoxStream<'static, Result<bytes::Bytes, CallError>> {
    use tokio::sync::Semaphore;
    /// What an event costs beyond its payload (the queue's own memory).
    const OVERHEAD: usize = 64;
    let budget = Arc::new(Semaphore::new(max_bytes.min(Semaphore::MAX_PERMITS)));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                // The subscriber is gone: so is the subscription.
                () = tx.closed() => return,
                event = events.next() => event,
            };
            let Some(event) = event else {
                return;
            };
            let cost = event.as_ref().map_or(0, |e| e.len()) + OVERHEAD;
            let permit = u32::try_from(cost)
                .ok()
                .and_then(|n| budget.clone().try_acquire_many_owned(n).ok());
            let Some(permit) = permit else {
                let behind = Status::new(
                    Code::ResourceExhausted,
                    format!("the subscriber fell more than {max_bytes} bytes behind the events; cut off"),
                );
                let _ = tx.send((Err(CallError::Status(behind)), None));
                return;
            };
            if tx.send((event, Some(permit))).is_err() {
                return;
            }
        }
    });
    // An event's bytes are released as it is handed on.
    futures::stream::unfold(rx, |mut rx| async move {
        let (event, _permit) = rx.recv().await?;
        Some((event, rx))
    })
    .boxed()
}
