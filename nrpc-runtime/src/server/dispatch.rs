//! The request path of one service, in steps: [`Receiver::run`] takes
//! each message under the concurrency limit; [`Receiver::route`] finds
//! the method and applies the call policy; [`Receiver::open`] builds the
//! call (deadline, stream subscriptions); [`execute`] runs the handler
//! with its deadline and catches panics; [`Receiver::finish`] replies and
//! counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_nats::{HeaderMap, Message, Subject};
use bytes::Bytes;
use futures::future::Either;
use futures::{FutureExt, StreamExt};
use nrpc_wire::subject::{strip_routing, Delivery, SubjectError};
use nrpc_wire::{headers, Code, Encoding, MethodKind, Status};
use tokio::sync::Semaphore;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tracing::Instrument;

use super::call::{Call, Context, Reply};
use super::discovery::ServiceStats;
use super::handlers::Service;
use super::layer::{self, CallService, PanicReply};
use super::reply::Replier;
use super::stream;
use crate::observe;

/// What every service of a server shares.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) nats: async_nats::Client,
    pub(super) limit: Arc<Semaphore>,
    pub(super) tracker: TaskTracker,
}

/// Receives and handles the requests of one service.
pub(super) struct Receiver {
    pub(super) service: Arc<dyn Service>,
    /// Answers as this service instance (its own id, as discovery lists it).
    pub(super) replier: Replier,
    /// The server's layers around the handlers, if it has any.
    pub(super) layered: Option<CallService>,
    pub(super) panics: PanicReply,
    pub(super) stats: Arc<ServiceStats>,
    /// The package subject in use, subject prefix included.
    pub(super) package_subject: String,
    pub(super) shared: Arc<Shared>,
    /// Requests still running after their first step, by reply subject, so
    /// a caller's cancellation finds their task. Requests that finish in
    /// their first step never enter.
    pub(super) running: Mutex<HashMap<String, AbortHandle>>,
}

/// A request that reached one of the service's methods.
struct Routed {
    subject: Subject,
    method: usize,
    params: Vec<String>,
    encoding: Encoding,
    delivery: Delivery,
    /// `None` for fire-and-forget methods: never answered.
    reply_to: Option<Subject>,
    metadata: HeaderMap,
    payload: Bytes,
}

/// A request answered with an error before any handler ran.
struct Rejected {
    status: Status,
    /// The method, when the subject named one (for the statistics).
    method: Option<usize>,
    reply_to: Option<Subject>,
    encoding: Encoding,
    delivery: Delivery,
}

/// How a handler ended, if it was allowed to.
enum Executed {
    Done(Result<Reply, Status>),
    /// The caller's deadline passed: the work was dropped.
    TimedOut,
}

impl Receiver {
    /// Takes requests until the subscriptions end (or `stop` drains them).
    pub(super) async fn run(self, subs: Vec<async_nats::Subscriber>, stop: CancellationToken) {
        let this = Arc::new(self);
        let mut subs = Merged::new(subs);
        let stopped = stop.cancelled();
        tokio::pin!(stopped);
        let mut draining = false;
        loop {
            let msg = tokio::select! {
                biased;
                _ = &mut stopped, if !draining => {
                    draining = true;
                    // Unsubscribe at the NATS server; messages already on
                    // their way are still delivered, then the streams end.
                    for sub in subs.subs.iter_mut() {
                        let _ = sub.drain().await;
                    }
                    continue;
                }
                msg = subs.next() => msg,
            };
            let Some(msg) = msg else { break };
            if strip_routing(&msg.subject).0 == Delivery::Cancel {
                this.cancel(&msg.payload);
                continue;
            }
            let received = Instant::now();
            let Ok(permit) = this.shared.limit.clone().try_acquire_owned() else {
                this.too_busy(msg, received).await;
                continue;
            };
            let reply = msg.reply.clone();
            let receiver = this.clone();
            let mut call = Box::pin(async move {
                receiver.handle(msg, received).await;
                drop(permit);
            });
            // Most handlers finish without waiting: run the first step here
            // and spawn only calls that are still pending (a task per request
            // costs more than the handler itself for short calls). Only
            // those can be cancelled by their caller: a cancellation aborts
            // the task, which drops the handler.
            if futures::poll!(call.as_mut()).is_pending() {
                let Some(reply) = reply else {
                    this.shared.tracker.spawn(call);
                    continue;
                };
                let key = reply.to_string();
                let receiver = this.clone();
                // Registered under the lock the task takes to leave, so a
                // task that ends at once cannot leave before it is entered.
                let mut running = lock(&this.running);
                let task = this.shared.tracker.spawn(async move {
                    call.await;
                    lock(&receiver.running).remove(&*reply);
                });
                running.insert(key, task.abort_handle());
            }
        }
    }

    /// A caller dropped its call: the request answering to that reply
    /// subject, if it runs here, is cancelled (its handler dropped).
    fn cancel(&self, reply: &[u8]) {
        let Ok(reply) = std::str::from_utf8(reply) else {
            return;
        };
        if let Some(task) = lock(&self.running).remove(reply) {
            task.abort();
        }
    }

    /// Past the concurrency limit: `SERVERTOOBUSY` at once.
    async fn too_busy(&self, msg: Message, received: Instant) {
        let status = Status::unavailable("server too busy");
        match self.route(msg) {
            Ok(r) => {
                let rejected = Rejected {
                    status,
                    method: Some(r.method),
                    reply_to: r.reply_to,
                    encoding: r.encoding,
                    delivery: r.delivery,
                };
                self.reject(rejected, received).await;
            }
            Err(mut rejected) => {
                rejected.status = status;
                self.reject(rejected, received).await;
            }
        }
    }

    /// Handles one request.
    async fn handle(&self, msg: Message, received: Instant) {
        let routed = match self.route(msg) {
            Ok(r) => r,
            Err(rejected) => return self.reject(rejected, received).await,
        };
        let spec = self.service.spec();
        let method = routed.method;
        let span = observe::server_span(
            spec,
            &spec.methods[method],
            &routed.subject,
            &self.replier.instance,
            observe::request_id_of(&routed.metadata),
        );
        observe::extract(&span, &routed.metadata);
        self.stats.metrics[method].started();
        // Counts the call when it ends, or when its caller's cancellation
        // drops it.
        let mut ended = Ended {
            receiver: self,
            method,
            received,
            span: span.clone(),
            code: None,
            finished: false,
        };
        ended.code = self.serve_routed(routed, received).instrument(span).await;
        ended.finished = true;
    }

    /// Opens, runs and answers a routed request; returns its status code
    /// (`None`: OK).
    async fn serve_routed(&self, routed: Routed, received: Instant) -> Option<Code> {
        let (method, encoding, delivery) = (routed.method, routed.encoding, routed.delivery);
        let reply_to = routed.reply_to.clone();
        // The handler's token fires when the handler is dropped (execute's
        // guard, or the task's abort when the caller cancels).
        let (call, deadline) = match self.open(routed, received, CancellationToken::new()).await {
            Ok(opened) => opened,
            Err(status) => {
                let code = status.code();
                let rejected = Rejected {
                    status,
                    method: Some(method),
                    reply_to,
                    encoding,
                    delivery,
                };
                self.reject(rejected, received).await;
                return Some(code);
            }
        };
        let executed = self.execute(call, deadline).await;
        self.finish(method, executed, reply_to, encoding, delivery, received)
            .await
    }

    /// Finds the method a request is for and applies the call policy.
    fn route(&self, msg: Message) -> Result<Routed, Rejected> {
        let spec = self.service.spec();
        let (delivery, rest) = strip_routing(&msg.subject);
        let parsed = spec
            .parse_request(Some(&self.package_subject), rest)
            .map_err(|e| Rejected {
                status: match e {
                    SubjectError::UnknownMethod(_) => Status::unimplemented(e.to_string()),
                    _ => Status::invalid_argument(e.to_string()),
                },
                method: None,
                reply_to: msg.reply.clone(),
                encoding: Encoding::guess_from_subject(rest),
                delivery,
            })?;
        let method = &spec.methods[parsed.method];
        let reject = |status, reply_to| Rejected {
            status,
            method: Some(parsed.method),
            reply_to,
            encoding: parsed.encoding,
            delivery,
        };
        // Fire-and-forget requests are never answered, whatever they carry.
        let reply_to = match (method.kind, msg.reply) {
            (MethodKind::NoReply, _) => None,
            (_, Some(r)) => Some(r),
            (_, None) => {
                let status = Status::invalid_argument("request without reply subject ignored");
                return Err(reject(status, None));
            }
        };
        if delivery == Delivery::Broadcast && !method.polling {
            let status = Status::invalid_argument(format!(
                "method {} does not accept broadcast calls",
                method.name
            ));
            return Err(reject(status, reply_to));
        }
        Ok(Routed {
            subject: msg.subject.clone(),
            method: parsed.method,
            params: parsed.params.iter().map(|p| (*p).to_owned()).collect(),
            encoding: parsed.encoding,
            delivery,
            reply_to,
            metadata: msg.headers.unwrap_or_default(),
            payload: msg.payload,
        })
    }

    /// Builds the call: its deadline (`Nrpc-Timeout` from receipt; streams
    /// live as long as both sides' heartbeats say), cancellation token and,
    /// for streams, the stream's subscriptions.
    async fn open(
        &self,
        r: Routed,
        received: Instant,
        cancel: CancellationToken,
    ) -> Result<(Call, Option<Instant>), Status> {
        let spec = self.service.spec();
        let kind = spec.methods[r.method].kind;
        let deadline = r
            .metadata
            .get(headers::TIMEOUT)
            .and_then(|v| headers::parse_timeout(v.as_str()))
            .filter(|_| !kind.is_stream())
            // A deadline too far away to represent is no deadline.
            .and_then(|timeout| received.checked_add(timeout));
        let stream = match (&r.reply_to, kind.is_stream()) {
            (Some(reply), true) => {
                // Boxed: only streams pay for the accept's state in the
                // request's future.
                Some(Box::pin(stream::accept(&self.shared.nats, reply, kind, &r.metadata)).await?)
            }
            _ => None,
        };
        let call = Call {
            payload: r.payload,
            stream,
            context: Context {
                subject: r.subject,
                metadata: r.metadata,
                spec,
                method: r.method,
                params: r.params,
                deadline,
                cancel,
                encoding: r.encoding,
            },
        };
        Ok((call, deadline))
    }

    /// Answers a rejected request (unless it cannot be answered) and counts
    /// it against its method, if it named one.
    async fn reject(&self, rejected: Rejected, received: Instant) {
        let Rejected {
            status,
            method,
            reply_to,
            encoding,
            delivery,
        } = rejected;
        let Some(reply_to) = reply_to else {
            tracing::debug!("nrpc: unanswerable request dropped: {status}");
            if let Some(m) = method {
                self.stats.record(m, received, Some(&status));
            }
            return;
        };
        self.replier
            .error(reply_to, encoding, &status, delivery)
            .await;
        if let Some(m) = method {
            self.stats.record(m, received, Some(&status));
        }
    }

    /// Runs the call (through the server's layers, if any) until it ends or
    /// the deadline passes; a panic is an `INTERNAL`
    /// status. The call's cancellation token fires when this returns.
    async fn execute(&self, call: Call, deadline: Option<Instant>) -> Executed {
        let _cancel_on_drop = call.context.cancel.clone().drop_guard();
        let outcome = match &self.layered {
            None => Either::Left(layer::run(&*self.service, call, self.panics)),
            Some(stack) => {
                // Handler panics reach the layers as statuses; this catches
                // the layers' own.
                let (spec, method, panics) =
                    (self.service.spec(), call.context.method, self.panics);
                // Boxed (layers box per call anyway): a server without
                // layers keeps this state out of every request's future.
                Either::Right(Box::pin(
                    std::panic::AssertUnwindSafe(stack.clone().oneshot(call))
                        .catch_unwind()
                        .map(move |r| {
                            r.unwrap_or_else(|panic| {
                                let name = &spec.methods[method].name;
                                Err(layer::panicked(&spec.name, name, &*panic, panics))
                            })
                        }),
                ))
            }
        };
        match deadline {
            Some(d) => match tokio::time::timeout_at(d, outcome).await {
                Ok(r) => Executed::Done(r),
                Err(_) => Executed::TimedOut,
            },
            None => Executed::Done(outcome.await),
        }
    }

    /// Sends the handler's outcome, logs a failure and counts it; returns
    /// the outcome's code (`None`: OK).
    async fn finish(
        &self,
        method: usize,
        executed: Executed,
        reply_to: Option<Subject>,
        encoding: Encoding,
        delivery: Delivery,
        received: Instant,
    ) -> Option<Code> {
        let replier = &self.replier;
        let error = match (executed, reply_to) {
            (Executed::TimedOut, _) => {
                // The caller has given up: drop the work, send nothing.
                Some(Status::deadline_exceeded("caller gave up; no reply sent"))
            }
            (Executed::Done(Ok(reply)), Some(to)) if !reply.sent => {
                replier.reply(to, reply, encoding, delivery).await.err()
            }
            (Executed::Done(Ok(_)), _) => None,
            (Executed::Done(Err(status)), Some(to)) => {
                replier.error(to, encoding, &status, delivery).await;
                Some(status)
            }
            // Fire-and-forget: nobody else learns of the failure.
            (Executed::Done(Err(status)), None) => Some(status),
        };
        if let Some(status) = &error {
            observe::log_failure(status);
        }
        self.stats.record(method, received, error.as_ref());
        error.map(|s| s.code())
    }
}

/// A service's subscriptions (queue group, direct, cancel, broadcast) as
/// one stream, cheaper than `select_all` for so few: it keeps taking from
/// the subscription that last had a message, moving on after [`Merged::BURST`]
/// in a row so none starves.
struct Merged {
    subs: Vec<async_nats::Subscriber>,
    /// The subscription polled first.
    next: usize,
    /// Messages taken in a row from `next`.
    run: u8,
}

impl Merged {
    const BURST: u8 = 16;

    fn new(subs: Vec<async_nats::Subscriber>) -> Self {
        Self {
            subs,
            next: 0,
            run: 0,
        }
    }
}

impl futures::Stream for Merged {
    type Item = Message;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Message>> {
        use std::task::Poll;
        let this = &mut *self;
        if this.run >= Self::BURST {
            this.next = (this.next + 1) % this.subs.len().max(1);
            this.run = 0;
        }
        let mut tried = 0;
        while tried < this.subs.len() {
            let index = (this.next + tried) % this.subs.len();
            match this.subs[index].poll_next_unpin(cx) {
                Poll::Ready(Some(msg)) => {
                    if index != this.next {
                        this.run = 0;
                    }
                    this.next = index;
                    this.run += 1;
                    return Poll::Ready(Some(msg));
                }
                Poll::Ready(None) => {
                    // Drained: the others are polled again from the start.
                    this.subs.swap_remove(index);
                    (this.next, this.run, tried) = (0, 0, 0);
                }
                Poll::Pending => tried += 1,
            }
        }
        if this.subs.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

/// Ends a routed request's accounting: its in-flight gauge and span
/// always; when the request is dropped before it finished (its caller
/// cancelled it), also its statistics as `CANCELLED`.
struct Ended<'a> {
    receiver: &'a Receiver,
    method: usize,
    received: Instant,
    span: tracing::Span,
    /// The outcome's code (`None`: OK), once it finished.
    code: Option<Code>,
    finished: bool,
}

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        let stats = &self.receiver.stats;
        if !self.finished {
            let status = Status::cancelled("the caller cancelled the call");
            let _entered = self.span.enter();
            observe::log_failure(&status);
            stats.record(self.method, self.received, Some(&status));
            self.code = Some(status.code());
        }
        stats.metrics[self.method].stopped();
        observe::record(&self.span, self.code, self.received);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
