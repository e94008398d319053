//! The server side: [`Server`] subscribes every added [`Service`], runs
//! each request as its own task under a concurrency limit, replies, and
//! answers NATS services discovery.
//!
//! Generated `XServer<T>` adapters implement [`Service`]; users implement
//! the generated trait and never touch this module's plumbing.
//!
//! Per service, an instance subscribes to the service's own pattern (in
//! the queue group, as Go nRPC servers do), `_NRPC.all.<pattern>` if any
//! method allows broadcast (no queue group: every instance answers),
//! `_NRPC.id.<instance>.<pattern>` for direct calls to this instance, and
//! `_NRPC.cancel.<pattern>` for callers that drop their calls.

mod call;
mod cancel;
mod discovery;
mod dispatch;
#[cfg(feature = "jetstream")]
mod durable;
mod error;
pub(crate) mod handlers;
pub mod layer;
mod reply;
mod sink;
pub(crate) mod stream;
mod streaming;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::connection::State;
use nrpc_wire::route::Route;
use nrpc_wire::subject::{prefixed, validate_literal};
use tokio::sync::{broadcast, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::Connection;
use crate::schema::SchemaResponse;
pub use call::{Call, Reply, Request};
use discovery::ServiceStats;
use dispatch::{Receiver, Shared};
pub use error::ServeError;
pub use handlers::Service;
use layer::{BoxError, CallService, PanicReply, Stack};
use reply::Replier;
pub use sink::Sink;
pub use streaming::Streaming;

/// Queue group servers join unless told otherwise (the NATS services
/// default).
pub const DEFAULT_QUEUE_GROUP: &str = "q";

/// Requests handled at once, per server, unless told otherwise.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 1024;

/// How long [`ServerHandle::shutdown`] gives in-flight requests.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Version reported to discovery unless told otherwise.
pub const DEFAULT_VERSION: &str = "0.0.0";

/// Serves services on one NATS connection.
///
/// ```no_run
/// # async fn run(svc: impl nrpc_runtime::server::Service) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use nrpc_runtime::Server;
/// let conn = nrpc_runtime::connect().await?;
/// let handle = Server::builder(&conn)
///     .queue_group("greeters")
///     .max_concurrent_requests(256)
///     .version("1.4.0")
///     .add_service(svc)
///     .serve()
///     .await?;
/// println!("serving as instance {}", handle.instance_id());
/// // … later: stop taking requests, give in-flight ones 10 s, flush.
/// handle.shutdown_timeout(Duration::from_secs(10)).await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Server {
    nats: async_nats::Client,
    queue_group: Option<String>,
    max_concurrent: usize,
    services: Vec<ServiceEntry>,
    package_subject: Option<String>,
    subject_prefix: String,
    /// The connection whose permission errors `serve` checks (one made by
    /// [`connect`](crate::connect())).
    checked: Option<(Connection, broadcast::Receiver<String>)>,
    layers: Option<Stack>,
    panics: PanicReply,
    version: String,
    metadata: BTreeMap<String, String>,
    #[cfg(feature = "jetstream")]
    conn: Connection,
    /// Changes to declared durable policies, by `<service>/<method>`.
    #[cfg(feature = "jetstream")]
    durable: Vec<(String, durable::Override)>,
}

impl Server {
    /// A server on `conn`'s NATS connection, with its subject prefix, the
    /// default queue group and concurrency limit. If `conn` was made by
    /// [`connect`](crate::connect()), subscriptions the server's
    /// permissions deny make [`serve`](Self::serve) fail.
    pub fn builder(conn: &Connection) -> Self {
        Self {
            nats: conn.nats().clone(),
            queue_group: Some(DEFAULT_QUEUE_GROUP.to_owned()),
            max_concurrent: DEFAULT_MAX_CONCURRENT_REQUESTS,
            services: Vec::new(),
            package_subject: None,
            subject_prefix: conn.subject_prefix().to_owned(),
            checked: conn.server_errors().map(|errors| (conn.clone(), errors)),
            layers: None,
            panics: PanicReply::default(),
            version: DEFAULT_VERSION.to_owned(),
            metadata: BTreeMap::new(),
            #[cfg(feature = "jetstream")]
            conn: conn.clone(),
            #[cfg(feature = "jetstream")]
            durable: Vec::new(),
        }
    }

    /// Changes the declared policy of the durable command `method`
    /// (`<package.Service>/<Method>`, e.g. `shop.v1.Orders/PlaceOrder`)
    /// for this server: its handler concurrency, timeouts, retries. What
    /// shapes the stream (storage, replicas, dedup window, max age) must
    /// still match the existing stream, or [`serve`](Self::serve) says
    /// which setting differs.
    ///
    /// ```no_run
    /// # fn f(server: nrpc_runtime::Server) -> nrpc_runtime::Server {
    /// server.durable_policy("shop.v1.Orders/PlaceOrder", |p| p.concurrency = 64)
    /// # }
    /// ```
    #[cfg(feature = "jetstream")]
    pub fn durable_policy(
        mut self,
        method: impl Into<String>,
        change: impl Fn(&mut crate::durable::Policy) + Send + Sync + 'static,
    ) -> Self {
        self.durable
            .push((method.into(), durable::Override(Arc::new(change))));
        self
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

    /// Puts `prefix` in front of every service subject (e.g. `canary`; the
    /// clients' connection needs the same prefix, or a nats-server
    /// mapping sends them here). Replaces the connection's prefix.
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.subject_prefix = prefix.into();
        self
    }

    /// Wraps every handler in a tower `layer` (the first added is the
    /// outermost), e.g. `tower::timeout::TimeoutLayer`,
    /// `tower::limit::ConcurrencyLimitLayer` or your own; see
    /// [the `layer` module](crate::server::layer) for what a layer sees. A server
    /// without layers calls its handlers directly.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<CallService> + Send + Sync + 'static,
        L::Service: tower::Service<Call, Response = Reply> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<Call>>::Error: Into<BoxError>,
        <L::Service as tower::Service<Call>>::Future: Send + 'static,
    {
        self.layers = Some(layer::push(self.layers.take(), layer));
        self
    }

    /// Sends a panicking handler's message to its caller
    /// (`INTERNAL: handler panicked: <message>`). By default the caller
    /// learns only `handler panicked`; the message is always logged.
    pub fn send_panic_messages(mut self, send: bool) -> Self {
        self.panics = if send {
            PanicReply::WithMessage
        } else {
            PanicReply::Hidden
        };
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
        self.services.push(ServiceEntry(Arc::new(service)));
        self
    }

    /// Subscribes every service and starts serving in background tasks.
    pub async fn serve(mut self) -> Result<ServerHandle, ServeError> {
        validate_literal("subject prefix", &self.subject_prefix)?;
        if let Some(ps) = &self.package_subject {
            validate_literal("package subject", ps)?;
        }
        let shared = Arc::new(Shared {
            nats: self.nats.clone(),
            limit: Arc::new(Semaphore::new(self.max_concurrent)),
            tracker: TaskTracker::new(),
            abort: CancellationToken::new(),
        });
        let stop = CancellationToken::new();
        let mut loops = Vec::new();
        let mut subjects = Vec::new();
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
        // One id for the server: each service's instance has it (discovery
        // keys instances by name and id), and a direct call through it
        // reaches any service of this server.
        let instance = nuid::next().to_string();
        #[cfg(feature = "jetstream")]
        let mut consumers = Vec::new();
        for ServiceEntry(service) in self.services {
            let spec = service.spec();
            let package_subject = prefixed(
                &self.subject_prefix,
                self.package_subject
                    .as_deref()
                    .unwrap_or(&spec.package_subject),
            );
            let pattern = spec.server_pattern(Some(&package_subject));
            let mut routes = vec![
                (pattern.clone(), self.queue_group.clone()),
                (Route::Direct(&instance).subject(&pattern)?, None),
                // Cancellations reach every instance; the one running the
                // request drops it.
                (Route::Cancel.subject(&pattern)?, None),
            ];
            if spec.methods.iter().any(|m| m.polling) {
                routes.push((Route::Broadcast.subject(&pattern)?, None));
            }
            let mut subs = Vec::with_capacity(routes.len());
            for (subject, queue) in routes {
                subs.push(subscribe(subject.clone(), queue).await?);
                subjects.push(subject);
            }
            let schema = SchemaResponse::new(
                spec,
                service.describe(),
                (&crate::discovery::service_name(&spec.name), &instance),
                self.package_subject
                    .as_deref()
                    .unwrap_or(&spec.package_subject),
                &self.subject_prefix,
            );
            let stats = Arc::new(ServiceStats::new(
                spec,
                Some(&package_subject),
                self.queue_group.clone(),
                &instance,
                &self.version,
                &self.metadata,
                &schema,
            )?);
            let (discovery_subs, discovery_subjects) =
                discovery::subscribe(&self.nats, &stats).await?;
            subjects.extend(discovery_subjects);
            loops.push(tokio::spawn(discovery::respond(
                discovery_subs,
                stats.clone(),
                self.nats.clone(),
                stop.clone(),
            )));
            let layered = self.layers.as_ref().map(|stack| {
                stack.wrap(CallService::new(layer::Handlers {
                    service: service.clone(),
                    panics: self.panics,
                }))
            });
            let receiver = Receiver {
                service,
                replier: Replier {
                    nats: self.nats.clone(),
                    instance: instance.clone(),
                },
                layered,
                panics: self.panics,
                stats,
                package_subject,
                shared: shared.clone(),
                running: Default::default(),
                early_cancels: Default::default(),
            };
            let receiver = Arc::new(receiver);
            #[cfg(feature = "jetstream")]
            match durable::start(&self.conn, &receiver, &self.durable).await {
                Ok(started) => consumers.extend(started),
                Err(e) => {
                    stop.cancel();
                    for c in consumers {
                        c.shutdown(Duration::ZERO).await;
                    }
                    return Err(e);
                }
            }
            #[cfg(not(feature = "jetstream"))]
            if let Some(m) = spec.methods.iter().find(|m| m.durable.is_some()) {
                stop.cancel();
                return Err(ServeError::NoJetStream(format!("{}/{}", spec.name, m.name)));
            }
            loops.push(tokio::spawn(receiver.run(subs, stop.clone())));
        }
        // Make sure the server has our subscriptions (and has not refused
        // one) before callers are told we are serving.
        match self.checked.as_mut() {
            Some((conn, errors)) => {
                let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
                if let Some(denied) = conn.denied(errors, &subjects).await {
                    stop.cancel();
                    return Err(ServeError::PermissionDenied(denied));
                }
            }
            None => {
                let _ = self.nats.flush().await;
            }
        }
        Ok(ServerHandle {
            shared,
            instance,
            stop,
            loops,
            #[cfg(feature = "jetstream")]
            consumers,
        })
    }
}

/// A service added to a [`Server`].
struct ServiceEntry(Arc<dyn Service>);

impl std::fmt::Debug for ServiceEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.spec().name)
    }
}

/// A running server; [`shutdown`](Self::shutdown) stops it gracefully.
/// Dropping the handle leaves the server running until the NATS client closes.
#[derive(Debug)]
pub struct ServerHandle {
    shared: Arc<Shared>,
    /// The server's instance id, which every service of it has.
    instance: String,
    stop: CancellationToken,
    loops: Vec<tokio::task::JoinHandle<()>>,
    /// The durable commands' consumers.
    #[cfg(feature = "jetstream")]
    consumers: Vec<crate::durable::ConsumerHandle>,
}

impl ServerHandle {
    /// Requests being handled right now that are waiting on something
    /// (requests that finish in their first step are never counted).
    pub fn in_flight(&self) -> usize {
        self.shared.tracker.len()
    }

    /// The server's instance id: the NATS services id of each of its
    /// services, and the address of direct calls (`with_instance`) to any
    /// of them.
    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    /// [`shutdown_timeout`](Self::shutdown_timeout) with
    /// [`DEFAULT_SHUTDOWN_GRACE`].
    pub async fn shutdown(self) -> bool {
        self.shutdown_timeout(DEFAULT_SHUTDOWN_GRACE).await
    }

    /// Stops taking requests (unsubscribing at the broker), lets in-flight
    /// ones finish and reply, then flushes; requests already delivered to
    /// this instance are still handled. Returns within `grace` whatever
    /// the connection does: what has not finished by then is cancelled
    /// (handlers dropped, no reply), and while the broker is unreachable
    /// nothing waits on it. Durable commands' consumers stop pulling and
    /// NAK what they fetched, their handlers finishing within the same
    /// grace. Returns whether everything finished in time.
    pub async fn shutdown_timeout(self, grace: Duration) -> bool {
        let until = Instant::now() + grace;
        self.stop.cancel();
        // Durable commands: stop pulling, hand back what was fetched, let
        // handlers finish within the grace (beside the core requests').
        #[cfg(feature = "jetstream")]
        let consumers = futures::future::join_all(
            self.consumers
                .into_iter()
                .map(|c| c.shutdown(until.saturating_duration_since(Instant::now()))),
        );
        #[cfg(not(feature = "jetstream"))]
        let consumers = std::future::ready(());
        let consumers = tokio::spawn(consumers);
        // Draining ends the receive loops once the broker confirms; a
        // broker that is away never does, so the loops are bounded too.
        let mut done = true;
        for l in self.loops {
            let abort = l.abort_handle();
            if tokio::time::timeout_at(until, l).await.is_err() {
                abort.abort();
                done = false;
            }
        }
        self.shared.tracker.close();
        if tokio::time::timeout_at(until, self.shared.tracker.wait())
            .await
            .is_err()
        {
            // Every request task ends at its next poll.
            self.shared.abort.cancel();
            self.shared.tracker.wait().await;
            done = false;
        }
        let _ = consumers.await;
        if self.shared.nats.connection_state() == State::Connected {
            done &= tokio::time::timeout_at(until, self.shared.nats.flush())
                .await
                .is_ok_and(|flushed| flushed.is_ok());
        } else {
            done = false;
        }
        done
    }
}
