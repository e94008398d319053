//! The server side: [`Server`] subscribes every added [`Service`], runs
//! each request as its own task under a concurrency limit, replies, and
//! answers NATS services discovery.
//!
//! Generated `XServer<T>` adapters implement [`Service`]; users implement
//! the generated trait and never touch this module's plumbing.
//!
//! Per service, an instance subscribes to three subjects:
//! the service's own pattern (in the queue group, as Go nRPC servers do),
//! `_NRPC.all.<pattern>` if any method allows broadcast (no queue group:
//! every instance answers), and `_NRPC.id.<instance>.<pattern>` for direct
//! calls to this instance.

mod call;
mod discovery;
mod stream;

use std::any::Any;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_nats::{HeaderMap, Message, Subject};
use futures::{FutureExt, StreamExt};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use call::Context;
pub use call::{no_reply, unary, unimplemented, Call, Reply, Request, Service};
use discovery::ServiceStats;
pub use stream::{bidi_stream, client_stream, server_stream, Sink, Streaming};

use crate::status::Status;
use crate::wire::stream as wire_stream;
use crate::wire::subject::{self, Delivery, SubjectError};
use crate::wire::{headers, Encoding, ErrorFrame, MethodKind};

/// Queue group servers join unless told otherwise (the NATS services
/// default).
pub const DEFAULT_QUEUE_GROUP: &str = "q";

/// Requests handled at once, per server, unless told otherwise.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 1024;

/// Version reported to discovery unless told otherwise.
pub const DEFAULT_VERSION: &str = "0.0.0";

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
///     .version("1.4.0")
///     .add_service(svc)
///     .serve()
///     .await?;
/// println!("serving as instance {}", handle.instance_id());
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
    version: String,
    metadata: BTreeMap<String, String>,
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
            version: DEFAULT_VERSION.to_owned(),
            metadata: BTreeMap::new(),
        }
    }

    /// The queue group to join (instances in one group share the load).
    pub fn queue_group(mut self, group: impl Into<String>) -> Self {
        self.queue_group = Some(group.into());
        self
    }

    /// Joins no queue group: every instance receives every request (what a
    /// Go nRPC client's `Poll` needs to reach every instance).
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

    /// The version discovery reports (semantic version, default `0.0.0`).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Adds a metadata entry to every service's discovery replies.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Adds a service.
    pub fn add_service(mut self, service: impl Service) -> Self {
        self.services.push(Arc::new(service));
        self
    }

    /// Subscribes every service and starts serving in background tasks.
    pub async fn serve(self) -> Result<ServerHandle, ServeError> {
        let instance = nuid::next().to_string();
        let shared = Arc::new(Shared {
            nats: self.nats.clone(),
            limit: Arc::new(Semaphore::new(self.max_concurrent)),
            tracker: TaskTracker::new(),
            package_subject: self.package_subject,
            instance: instance.clone(),
        });
        let stop = CancellationToken::new();
        let mut loops = Vec::new();
        let subscribe = |subject: String, queue: Option<String>| {
            let nats = self.nats.clone();
            async move {
                match queue {
                    Some(q) => nats.queue_subscribe(subject.clone(), q).await,
                    None => nats.subscribe(subject.clone()).await,
                }
                .map_err(|source| ServeError::Subscribe { subject, source })
            }
        };
        for service in self.services {
            let spec = service.spec();
            let pattern = spec.server_pattern(shared.package_subject.as_deref());
            let mut subs = vec![
                subscribe(pattern.clone(), self.queue_group.clone()).await?,
                subscribe(
                    format!("{}{pattern}", subject::direct_prefix(&instance)),
                    None,
                )
                .await?,
            ];
            if spec.methods.iter().any(|m| m.polling) {
                subs.push(
                    subscribe(format!("{}{pattern}", subject::broadcast_prefix()), None).await?,
                );
            }
            let stats = Arc::new(ServiceStats::new(
                spec,
                shared.package_subject.as_deref(),
                self.queue_group.clone(),
                &instance,
                &self.version,
                &self.metadata,
            ));
            let discovery_subs = discovery::subscribe(&self.nats, &stats).await?;
            loops.push(tokio::spawn(discovery::respond(
                discovery_subs,
                stats.clone(),
                self.nats.clone(),
                stop.clone(),
            )));
            let receiver = Receiver {
                service,
                stats,
                shared: shared.clone(),
            };
            loops.push(tokio::spawn(receiver.run(subs, stop.clone())));
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
    instance: String,
}

/// A running server; [`shutdown`](Self::shutdown) stops it gracefully.
/// Dropping the handle leaves the server running until the NATS client closes.
pub struct ServerHandle {
    shared: Arc<Shared>,
    stop: CancellationToken,
    loops: Vec<tokio::task::JoinHandle<()>>,
}

impl ServerHandle {
    /// Requests being handled right now that are waiting on something
    /// (requests that finish in their first step are never counted).
    pub fn in_flight(&self) -> usize {
        self.shared.tracker.len()
    }

    /// This instance's id: its NATS services id and the address of direct
    /// calls (`with_instance`).
    pub fn instance_id(&self) -> &str {
        &self.shared.instance
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

/// Receives the requests of one service.
struct Receiver {
    service: Arc<dyn Service>,
    stats: Arc<ServiceStats>,
    shared: Arc<Shared>,
}

impl Receiver {
    async fn run(self, subs: Vec<async_nats::Subscriber>, stop: CancellationToken) {
        let mut subs = futures::stream::select_all(subs);
        let mut draining = false;
        loop {
            let msg = tokio::select! {
                _ = stop.cancelled(), if !draining => {
                    draining = true;
                    // Unsubscribe at the NATS server; messages already on
                    // their way are still delivered, then the streams end.
                    for sub in subs.iter_mut() {
                        let _ = sub.drain().await;
                    }
                    continue;
                }
                msg = subs.next() => msg,
            };
            let Some(msg) = msg else { break };
            let received = Instant::now();
            let Ok(permit) = self.shared.limit.clone().try_acquire_owned() else {
                self.too_busy(msg, received).await;
                continue;
            };
            let this = Receiver {
                service: self.service.clone(),
                stats: self.stats.clone(),
                shared: self.shared.clone(),
            };
            let mut call = Box::pin(async move {
                this.handle(msg, received).await;
                drop(permit);
            });
            // Most handlers finish without waiting: run the first step here
            // and spawn only calls that are still pending (a task per request
            // costs more than the handler itself for short calls).
            if futures::poll!(call.as_mut()).is_pending() {
                self.shared.tracker.spawn(call);
            }
        }
    }

    async fn too_busy(&self, msg: Message, received: Instant) {
        let status = Status::unavailable("server too busy");
        let (delivery, rest) = subject::strip_routing(&msg.subject);
        let parsed = self
            .service
            .spec()
            .parse_request(self.shared.package_subject.as_deref(), rest);
        if let Ok(p) = &parsed {
            self.stats.record(p.method, received, Some(&status));
            if self.service.spec().methods[p.method].kind == MethodKind::NoReply {
                return;
            }
        }
        if let Some(reply) = msg.reply {
            let encoding = parsed.map_or_else(|_| guess_encoding(rest), |p| p.encoding);
            self.publish_error(reply, encoding, &status, delivery).await;
        }
    }

    async fn handle(&self, msg: Message, received: Instant) {
        let spec = self.service.spec();
        let (delivery, rest) = subject::strip_routing(&msg.subject);
        let parsed = spec.parse_request(self.shared.package_subject.as_deref(), rest);
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) => {
                let status = match e {
                    SubjectError::UnknownMethod(_) => Status::unimplemented(e.to_string()),
                    _ => Status::invalid_argument(e.to_string()),
                };
                if let Some(reply) = msg.reply {
                    self.publish_error(reply, guess_encoding(rest), &status, delivery)
                        .await;
                }
                return;
            }
        };
        let method = &spec.methods[parsed.method];
        // Fire-and-forget requests are never answered, whatever they carry.
        let reply_to = match method.kind {
            MethodKind::NoReply => None,
            _ => match msg.reply {
                Some(r) => Some(r),
                None => {
                    tracing::debug!(subject = %msg.subject, "nrpc: request without reply subject ignored");
                    return;
                }
            },
        };
        let encoding = parsed.encoding;
        if delivery == Delivery::Broadcast && !method.polling {
            let status = Status::invalid_argument(format!(
                "method {} does not accept broadcast calls",
                method.name
            ));
            self.stats.record(parsed.method, received, Some(&status));
            if let Some(reply) = reply_to {
                self.publish_error(reply, encoding, &status, delivery).await;
            }
            return;
        }
        let metadata = msg.headers.unwrap_or_default();
        let streamed = method.kind.is_stream();
        // A stream lives as long as both sides' heartbeats say.
        let deadline = metadata
            .get(headers::TIMEOUT)
            .and_then(|v| v.as_str().parse::<u64>().ok())
            .filter(|_| !streamed)
            // A deadline too far away to represent is no deadline.
            .and_then(|ms| received.checked_add(Duration::from_millis(ms)));
        let stream = match (&reply_to, streamed) {
            (Some(reply), true) => match self.open_stream(reply, method.kind, &metadata).await {
                Ok(ctx) => Some(ctx),
                Err(status) => {
                    self.publish_error(reply.clone(), encoding, &status, delivery)
                        .await;
                    return;
                }
            },
            _ => None,
        };
        let cancel = CancellationToken::new();
        let _cancel_on_drop = cancel.clone().drop_guard();
        let call = Call {
            stream,
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
        let service = &self.service;
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| service.call(parsed.method, call)));
        let result = match run {
            Err(panic) => Err(panic),
            Ok(fut) => {
                let fut = AssertUnwindSafe(fut).catch_unwind();
                match deadline {
                    Some(d) => match tokio::time::timeout_at(d, fut).await {
                        Ok(r) => r,
                        Err(_) => {
                            // The caller has given up: drop the work, send nothing.
                            let status = Status::deadline_exceeded("caller gave up; no reply sent");
                            self.stats.record(parsed.method, received, Some(&status));
                            return;
                        }
                    },
                    None => fut.await,
                }
            }
        };
        let result = result.unwrap_or_else(|panic| {
            let status = Status::internal(format!("handler panicked: {}", panic_message(&panic)));
            tracing::error!(method = method.name, "nrpc: {status}");
            Err(status)
        });
        match (result, reply_to) {
            (Ok(reply), _) if reply.sent => self.stats.record(parsed.method, received, None),
            (Ok(reply), Some(reply_to)) => {
                let mut metadata = reply.metadata;
                if delivery != Delivery::Shared {
                    metadata.insert(headers::INSTANCE, self.shared.instance.as_str());
                }
                let nats = &self.shared.nats;
                let sent = if metadata.is_empty() {
                    nats.publish(reply_to, reply.payload).await
                } else {
                    nats.publish_with_headers(reply_to, metadata, reply.payload)
                        .await
                };
                if let Err(e) = sent {
                    tracing::warn!("nrpc: reply not sent: {e}");
                }
                self.stats.record(parsed.method, received, None);
            }
            (Ok(_), None) => self.stats.record(parsed.method, received, None),
            (Err(status), reply_to) => {
                if let Some(reply_to) = reply_to {
                    self.publish_error(reply_to, encoding, &status, delivery)
                        .await;
                } else {
                    tracing::warn!(
                        method = method.name,
                        "nrpc: fire-and-forget handler failed: {status}"
                    );
                }
                self.stats.record(parsed.method, received, Some(&status));
            }
        }
    }

    /// Subscribes what a streamed call needs and, for streaming requests,
    /// tells the client where to send them.
    async fn open_stream(
        &self,
        reply: &Subject,
        kind: MethodKind,
        metadata: &HeaderMap,
    ) -> Result<stream::StreamContext, Status> {
        let nats = &self.shared.nats;
        let unavailable = |e: async_nats::SubscribeError| {
            Status::unavailable(format!("cannot open the stream: {e}"))
        };
        let heartbeats = nats
            .subscribe(wire_stream::heartbeat_subject(reply))
            .await
            .map_err(unavailable)?;
        let input = if kind.streams_requests() {
            let inbox = nats.new_inbox();
            let input = nats.subscribe(inbox.clone()).await.map_err(unavailable)?;
            let mut h = HeaderMap::new();
            h.insert(wire_stream::STREAM_INBOX, inbox.as_str());
            h.insert(
                wire_stream::CREDIT,
                wire_stream::DEFAULT_WINDOW.to_string().as_str(),
            );
            nats.publish_with_headers(reply.clone(), h, wire_stream::KEEPALIVE.into())
                .await
                .map_err(|e| Status::unavailable(format!("cannot accept the stream: {e}")))?;
            Some(input)
        } else {
            None
        };
        Ok(stream::StreamContext {
            nats: nats.clone(),
            reply: reply.clone(),
            heartbeats,
            credit: metadata
                .get(wire_stream::STREAM_CREDIT)
                .and_then(|v| v.as_str().parse().ok()),
            input,
        })
    }

    async fn publish_error(
        &self,
        reply_to: Subject,
        encoding: Encoding,
        status: &Status,
        delivery: Delivery,
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
        if delivery != Delivery::Shared {
            h.insert(headers::INSTANCE, self.shared.instance.as_str());
        }
        let payload = ErrorFrame::from_status(status).encode(encoding);
        if let Err(e) = self
            .shared
            .nats
            .publish_with_headers(reply_to, h, payload)
            .await
        {
            tracing::warn!("nrpc: error reply not sent: {e}");
        }
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

fn panic_message(panic: &Box<dyn Any + Send>) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}
