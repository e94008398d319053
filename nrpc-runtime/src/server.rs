//! The server side: [`Server`] subscribes every added [`Service`], runs
//! each request as its own task under a concurrency limit, and replies.
//!
//! Generated `XServer<T>` adapters implement [`Service`]; users implement
//! the generated trait and never touch this module's plumbing.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_nats::{HeaderMap, Message, Subject};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::Response;
use crate::codec::Codec;
use crate::status::Status;
use crate::wire::subject::SubjectError;
use crate::wire::{headers, Encoding, ErrorFrame, ServiceSpec};

/// Queue group servers join unless told otherwise (the NATS services
/// default).
pub const DEFAULT_QUEUE_GROUP: &str = "q";

/// Requests handled at once, per server, unless told otherwise.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 1024;

/// A request as a handler sees it: the message, its metadata headers, the
/// subject parameters, the deadline and a cancellation token.
#[derive(Debug)]
pub struct Request<T> {
    message: T,
    context: Context,
}

/// Everything about a request except its message.
#[derive(Debug, Clone)]
struct Context {
    metadata: HeaderMap,
    spec: &'static ServiceSpec,
    method: usize,
    params: Vec<String>,
    deadline: Option<Instant>,
    cancel: CancellationToken,
    encoding: Encoding,
}

impl<T> Request<T> {
    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// The message, consuming the request.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// The caller's metadata headers.
    pub fn metadata(&self) -> &HeaderMap {
        &self.context.metadata
    }

    /// The value of the subject parameter `name` (package, service or method
    /// parameter), as the caller sent it.
    pub fn param(&self, name: &str) -> Option<&str> {
        let ctx = &self.context;
        ctx.spec
            .param_names(ctx.method)
            .position(|n| n == name)
            .and_then(|i| ctx.params.get(i))
            .map(String::as_str)
    }

    /// The name of the method being called.
    pub fn method(&self) -> &'static str {
        self.context.spec.methods[self.context.method].name
    }

    /// When the caller stops waiting, if it said (nrpc clients do; Go nRPC
    /// clients do not). The handler is dropped at that instant.
    pub fn deadline(&self) -> Option<Instant> {
        self.context.deadline
    }

    /// Fires when the caller has given up (deadline passed) or the server
    /// abandons the request; hand it to work spawned outside the handler.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.context.cancel
    }

    /// The encoding the caller used.
    pub fn encoding(&self) -> Encoding {
        self.context.encoding
    }
}

/// A received call, before its message is decoded. Generated code passes
/// it to [`unary`].
pub struct Call {
    payload: Bytes,
    context: Context,
}

/// An encoded reply with metadata headers.
pub struct Reply {
    payload: Bytes,
    metadata: HeaderMap,
}

/// A service the [`Server`] can serve; implemented by generated adapters.
pub trait Service: Send + Sync + 'static {
    /// The service's subjects and methods.
    fn spec(&self) -> &'static ServiceSpec;

    /// Handles a call of method number `method` of [`spec`](Self::spec).
    fn call(&self, method: usize, call: Call) -> BoxFuture<'static, Result<Reply, Status>>;
}

/// Decodes a unary call, runs `handler` and encodes its reply. Used by
/// generated adapters.
pub fn unary<Req, Resp, F, Fut>(call: Call, handler: F) -> BoxFuture<'static, Result<Reply, Status>>
where
    Req: Codec,
    Resp: Codec,
    F: FnOnce(Request<Req::Item>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Resp::Item>, Status>> + Send + 'static,
{
    let encoding = call.context.encoding;
    let message = match Req::decode(call.payload, encoding) {
        Ok(m) => m,
        Err(e) => {
            let status = Status::invalid_argument(format!("bad request received: {e}"));
            return Box::pin(std::future::ready(Err(status)));
        }
    };
    let request = Request {
        message,
        context: call.context,
    };
    Box::pin(async move {
        let (message, metadata) = handler(request).await?.into_parts();
        let payload = Resp::encode(&message, encoding)?;
        Ok(Reply { payload, metadata })
    })
}

/// Answers a call of a method this server does not implement (a call
/// kind the generated adapter does not serve).
pub fn unimplemented(call: Call) -> BoxFuture<'static, Result<Reply, Status>> {
    let ctx = &call.context;
    let name = ctx.spec.methods.get(ctx.method).map_or("?", |m| m.name);
    let status = Status::unimplemented(format!("method {name} is not served by this server"));
    Box::pin(std::future::ready(Err(status)))
}

/// Errors from [`Server::serve`].
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A subscription was refused.
    #[error("cannot subscribe to {subject}: {source}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// Why.
        source: async_nats::SubscribeError,
    },
}

/// Serves services on one NATS connection.
///
/// ```no_run
/// # async fn run(nats: async_nats::Client, svc: impl nrpc_runtime::server::Service) -> Result<(), Box<dyn std::error::Error>> {
/// use nrpc_runtime::Server;
/// let handle = Server::builder(nats)
///     .queue_group("greeters")
///     .max_concurrent_requests(256)
///     .add_service(svc)
///     .serve()
///     .await?;
/// // … later: stop taking requests, finish in-flight ones, flush.
/// handle.shutdown().await;
/// # Ok(()) }
/// ```
pub struct Server {
    nats: async_nats::Client,
    queue_group: Option<String>,
    max_concurrent: usize,
    services: Vec<Arc<dyn Service>>,
    package_subject: Option<String>,
}

impl Server {
    /// A server on `nats` with the default queue group and concurrency limit.
    pub fn builder(nats: async_nats::Client) -> Self {
        Self {
            nats,
            queue_group: Some(DEFAULT_QUEUE_GROUP.to_owned()),
            max_concurrent: DEFAULT_MAX_CONCURRENT_REQUESTS,
            services: Vec::new(),
            package_subject: None,
        }
    }

    /// The queue group to join (instances in one group share the load).
    pub fn queue_group(mut self, group: impl Into<String>) -> Self {
        self.queue_group = Some(group.into());
        self
    }

    /// Joins no queue group: every instance receives every request.
    pub fn no_queue_group(mut self) -> Self {
        self.queue_group = None;
        self
    }

    /// Requests handled at once; past it, requests are answered at once
    /// with `SERVERTOOBUSY` ([`Code::Unavailable`](crate::Code::Unavailable)).
    pub fn max_concurrent_requests(mut self, n: usize) -> Self {
        self.max_concurrent = n.max(1);
        self
    }

    /// Replaces the package subject of every service (see the client's
    /// `with_package_subject`).
    pub fn package_subject(mut self, package_subject: impl Into<String>) -> Self {
        self.package_subject = Some(package_subject.into());
        self
    }

    /// Adds a service.
    pub fn add_service(mut self, service: impl Service) -> Self {
        self.services.push(Arc::new(service));
        self
    }

    /// Subscribes every service and starts serving in background tasks.
    pub async fn serve(self) -> Result<ServerHandle, ServeError> {
        let shared = Arc::new(Shared {
            nats: self.nats.clone(),
            limit: Arc::new(Semaphore::new(self.max_concurrent)),
            tracker: TaskTracker::new(),
            package_subject: self.package_subject,
        });
        let stop = CancellationToken::new();
        let mut loops = Vec::new();
        for service in self.services {
            let subject = service
                .spec()
                .server_pattern(shared.package_subject.as_deref());
            let sub = match &self.queue_group {
                Some(q) => self.nats.queue_subscribe(subject.clone(), q.clone()).await,
                None => self.nats.subscribe(subject.clone()).await,
            }
            .map_err(|source| ServeError::Subscribe { subject, source })?;
            loops.push(tokio::spawn(receive_loop(
                sub,
                service,
                shared.clone(),
                stop.clone(),
            )));
        }
        // Make sure the server has our subscriptions before callers are told
        // we are serving.
        let _ = self.nats.flush().await;
        Ok(ServerHandle {
            shared,
            stop,
            loops,
        })
    }
}

struct Shared {
    nats: async_nats::Client,
    limit: Arc<Semaphore>,
    tracker: TaskTracker,
    package_subject: Option<String>,
}

/// A running server; [`shutdown`](Self::shutdown) stops it gracefully.
/// Dropping the handle leaves the server running until the NATS client closes.
pub struct ServerHandle {
    shared: Arc<Shared>,
    stop: CancellationToken,
    loops: Vec<tokio::task::JoinHandle<()>>,
}

impl ServerHandle {
    /// Requests being handled right now.
    pub fn in_flight(&self) -> usize {
        self.shared.tracker.len()
    }

    /// Stops taking requests, lets in-flight ones finish and reply, then
    /// unsubscribes and flushes. Requests already delivered to this instance
    /// are still handled.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for l in self.loops {
            let _ = l.await;
        }
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
        let _ = self.shared.nats.flush().await;
    }

    /// Like [`shutdown`](Self::shutdown), but gives in-flight requests at
    /// most `grace`; the rest are cancelled and get no reply. Returns
    /// whether everything finished in time.
    pub async fn shutdown_timeout(self, grace: Duration) -> bool {
        tokio::time::timeout(grace, self.shutdown()).await.is_ok()
    }
}

async fn receive_loop(
    mut sub: async_nats::Subscriber,
    service: Arc<dyn Service>,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    let mut draining = false;
    loop {
        let msg = tokio::select! {
            _ = stop.cancelled(), if !draining => {
                draining = true;
                // Unsubscribe at the NATS server; messages already on their
                // way are still delivered, then the stream ends.
                if sub.drain().await.is_err() {
                    break;
                }
                continue;
            }
            msg = sub.next() => msg,
        };
        let Some(msg) = msg else { break };
        let Some(reply_to) = msg.reply.clone() else {
            tracing::debug!(subject = %msg.subject, "nrpc: request without reply subject ignored");
            continue;
        };
        let Ok(permit) = shared.limit.clone().try_acquire_owned() else {
            let status = Status::unavailable("server too busy");
            let encoding = guess_encoding(&msg.subject);
            publish_error(&shared.nats, reply_to, encoding, &status).await;
            continue;
        };
        let (service, task_shared) = (service.clone(), shared.clone());
        shared.tracker.spawn(async move {
            handle(msg, reply_to, service, &task_shared).await;
            drop(permit);
        });
    }
}

/// The encoding a subject asks for, when it cannot be parsed fully.
fn guess_encoding(subject: &str) -> Encoding {
    if subject.ends_with(".json") {
        Encoding::Json
    } else {
        Encoding::Protobuf
    }
}

async fn handle(msg: Message, reply_to: Subject, service: Arc<dyn Service>, shared: &Shared) {
    let spec = service.spec();
    let parsed = match spec.parse_request(shared.package_subject.as_deref(), &msg.subject) {
        Ok(p) => p,
        Err(e) => {
            let status = match e {
                SubjectError::UnknownMethod(_) => Status::unimplemented(e.to_string()),
                _ => Status::invalid_argument(e.to_string()),
            };
            publish_error(
                &shared.nats,
                reply_to,
                guess_encoding(&msg.subject),
                &status,
            )
            .await;
            return;
        }
    };
    let encoding = parsed.encoding;
    let metadata = msg.headers.unwrap_or_default();
    let deadline = metadata
        .get(headers::TIMEOUT)
        .and_then(|v| v.as_str().parse::<u64>().ok())
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    let cancel = CancellationToken::new();
    let _cancel_on_drop = cancel.clone().drop_guard();
    let call = Call {
        payload: msg.payload,
        context: Context {
            metadata,
            spec,
            method: parsed.method,
            params: parsed.params.iter().map(|p| (*p).to_owned()).collect(),
            deadline,
            cancel,
            encoding,
        },
    };
    let run = std::panic::catch_unwind(AssertUnwindSafe(|| service.call(parsed.method, call)));
    let result = match run {
        Err(panic) => Err(panic),
        Ok(fut) => {
            let fut = AssertUnwindSafe(fut).catch_unwind();
            match deadline {
                // The caller has given up: drop the work, send nothing.
                Some(d) => match tokio::time::timeout_at(d, fut).await {
                    Ok(r) => r,
                    Err(_) => return,
                },
                None => fut.await,
            }
        }
    };
    match result {
        Ok(Ok(reply)) => {
            let sent = if reply.metadata.is_empty() {
                shared.nats.publish(reply_to, reply.payload).await
            } else {
                shared
                    .nats
                    .publish_with_headers(reply_to, reply.metadata, reply.payload)
                    .await
            };
            if let Err(e) = sent {
                tracing::warn!("nrpc: reply not sent: {e}");
            }
        }
        Ok(Err(status)) => publish_error(&shared.nats, reply_to, encoding, &status).await,
        Err(panic) => {
            let status = Status::internal(format!("handler panicked: {}", panic_message(&panic)));
            tracing::error!(method = spec.methods[parsed.method].name, "nrpc: {status}");
            publish_error(&shared.nats, reply_to, encoding, &status).await;
        }
    }
}

fn panic_message(panic: &Box<dyn Any + Send>) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}

async fn publish_error(
    nats: &async_nats::Client,
    reply_to: Subject,
    encoding: Encoding,
    status: &Status,
) {
    let mut h = HeaderMap::new();
    h.insert(headers::CODE, status.code().as_i32().to_string().as_str());
    h.insert(
        headers::SERVICE_ERROR_CODE,
        status.code().service_error_code().to_string().as_str(),
    );
    // Header values cannot hold line breaks.
    let text: String = status
        .message()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    h.insert(headers::SERVICE_ERROR, text.as_str());
    let payload = ErrorFrame::from_status(status).encode(encoding);
    if let Err(e) = nats.publish_with_headers(reply_to, h, payload).await {
        tracing::warn!("nrpc: error reply not sent: {e}");
    }
}
