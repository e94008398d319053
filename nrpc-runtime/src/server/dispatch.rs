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
use std::future::Future;
use std::task::Poll;

use futures::future::{BoxFuture, Either};
use futures::{FutureExt, StreamExt};
use nrpc_wire::address::SubjectError;
use nrpc_wire::route::{strip_routing, Delivery};
use nrpc_wire::{headers, Code, Encoding, MethodKind, ServiceSpec, Status};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tracing::Instrument;

use super::call::{Call, Context, Reply, StreamContext};
use super::cancel::EarlyCancels;
use super::discovery::ServiceStats;
use super::handlers::Service;
use super::layer::{self, CallService, PanicReply};
use super::reply::Replier;
use super::stream;
use crate::lock;
use crate::observe;

/// What every service of a server shares.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) nats: async_nats::Client,
    pub(super) limit: Arc<Semaphore>,
    pub(super) tracker: TaskTracker,
    /// Fired when shutdown's grace is over: every request task still
    /// running is dropped.
    pub(super) abort: CancellationToken,
}

impl Shared {
    /// Runs the rest of a request in a task of its own, tracked for
    /// shutdown and ended by its abort.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) -> JoinHandle<()> {
        let abort = self.abort.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = task => {}
                () = abort.cancelled() => {}
            }
        })
    }
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
    /// Cancellations that found no running request, which may still be
    /// on its way.
    pub(super) early_cancels: Mutex<EarlyCancels>,
}

/// A request that reached one of the service's methods.
struct Routed {
    spec: &'static ServiceSpec,
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
    pub(super) async fn run(
        self: Arc<Self>,
        subs: Vec<async_nats::Subscriber>,
        stop: CancellationToken,
    ) {
        let this = self;
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
            match this.shared.limit.clone().try_acquire_owned() {
                Ok(permit) => this.take(msg, received, permit).await,
                Err(_) => this.too_busy(msg, received).await,
            }
        }
    }

    /// A caller dropped its call: the request answering to that reply
    /// subject, if it runs here, is cancelled (its handler dropped).
    fn cancel(&self, reply: &[u8]) {
        let Ok(reply) = std::str::from_utf8(reply) else {
            return;
        };
        match lock(&self.running).remove(reply) {
            Some(task) => task.abort(),
            None => lock(&self.early_cancels).insert(reply, Instant::now()),
        }
    }

    /// Whether the request answering to `reply` was cancelled before it
    /// was taken (its cancellation overtook it).
    fn cancelled_early(&self, reply: Option<&Subject>) -> bool {
        let Some(reply) = reply else { return false };
        let mut early = lock(&self.early_cancels);
        !early.is_empty() && early.take(reply, Instant::now())
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

    /// Takes one request under its concurrency permit. Most handlers
    /// finish without waiting, so a unary handler's first step runs here
    /// and, if it is done, the reply goes out from here too: no task and
    /// no allocation beyond the handler's own future. Handlers still
    /// pending, and streams, continue in a task of their own; only those
    /// can be cancelled by their caller (the cancellation aborts the task,
    /// which drops the handler).
    async fn take(self: &Arc<Self>, msg: Message, received: Instant, permit: OwnedSemaphorePermit) {
        let routed = match self.route(msg) {
            Ok(r) => r,
            Err(rejected) => return self.reject(rejected, received).await,
        };
        if self.cancelled_early(routed.reply_to.as_ref()) {
            let status = Status::cancelled("the caller cancelled the call");
            self.stats.record(routed.method, received, Some(&status));
            return;
        }
        let spec = self.service.spec();
        let method = routed.method;
        if spec.methods[method].durable.is_some()
            && spec.methods[method].kind == MethodKind::NoReply
            && routed.delivery == Delivery::Shared
        {
            // A durable command on its own subject: its stream captured it
            // too, and it is handled from there. (One sent to this
            // instance directly is not stored: it is run here, as ever.)
            return;
        }
        let span = observe::server_span(
            spec,
            &spec.methods[method],
            &routed.subject,
            &self.replier.instance,
            observe::request_id_of(&routed.metadata),
        );
        observe::extract(&span, &routed.metadata);
        self.stats.metrics[method].started();
        let ended = Ended {
            receiver: self.clone(),
            method,
            received,
            span,
            code: None,
            finished: false,
        };
        let reply = routed.reply_to.clone();
        if spec.methods[method].kind.is_stream() {
            let receiver = self.clone();
            return self.spawn(reply, async move {
                let span = ended.span.clone();
                ended.done(
                    receiver
                        .serve_stream(routed, received)
                        .instrument(span)
                        .await,
                );
                drop(permit);
            });
        }
        let answer = Answer::of(&routed);
        let deadline = deadline_of(&routed, received);
        let call = call_of(routed, deadline, None);
        // The handler's token fires when the handler is done or dropped.
        let cancel_on_drop = call.context.cancel.clone().drop_guard();
        let mut outcome = self.start(call);
        let first = {
            let span = &ended.span;
            std::future::poll_fn(|cx| Poll::Ready(span.in_scope(|| outcome.poll_unpin(cx)))).await
        };
        if let Poll::Ready(result) = first {
            drop(cancel_on_drop);
            let span = ended.span.clone();
            let code = self
                .finish(method, Executed::Done(result), answer, received)
                .instrument(span)
                .await;
            return ended.done(code);
        }
        let receiver = self.clone();
        self.spawn(reply, async move {
            let span = ended.span.clone();
            let run = async {
                let executed = execute(outcome, deadline).await;
                drop(cancel_on_drop);
                receiver.finish(method, executed, answer, received).await
            };
            ended.done(run.instrument(span).await);
            drop(permit);
        });
    }

    /// Runs a durable command delivered from its stream as a call of
    /// `method` (through the layers, counted and traced as any call, its
    /// trace continued from the stored message's headers, its deadline the
    /// handler timeout); a subject that does not parse or a payload that
    /// does not decode is a [`Failure::Decode`].
    #[cfg(feature = "jetstream")]
    pub(super) fn durable_call(
        self: &Arc<Self>,
        method: usize,
        delivery: crate::durable::Delivery,
        timeout: std::time::Duration,
    ) -> impl Future<Output = Result<(), crate::durable::Failure>> + Send + 'static {
        use crate::durable::Failure;
        let spec = self.service.spec();
        let received = Instant::now();
        let parsed = spec
            .parse_request(Some(&self.package_subject), &delivery.subject)
            .map(|p| {
                (
                    p.method,
                    p.params.iter().map(|p| (*p).to_owned()).collect(),
                    p.encoding,
                )
            });
        let receiver = self.clone();
        async move {
            let (params, encoding) = match parsed {
                Ok((m, params, encoding)) if m == method => (params, encoding),
                Ok(_) => return Err(Failure::Decode("the subject names another method".into())),
                Err(e) => return Err(Failure::Decode(e.to_string())),
            };
            let mut metadata = delivery.headers.unwrap_or_default();
            metadata.insert(
                nrpc_wire::durable::DELIVERED_HEADER,
                delivery.delivered.to_string().as_str(),
            );
            let span = observe::server_span(
                spec,
                &spec.methods[method],
                &delivery.subject,
                &receiver.replier.instance,
                observe::request_id_of(&metadata),
            );
            observe::extract(&span, &metadata);
            receiver.stats.metrics[method].started();
            let ended = Ended {
                receiver: receiver.clone(),
                method,
                received,
                span: span.clone(),
                code: None,
                finished: false,
            };
            let call = Call {
                payload: delivery.payload,
                stream: None,
                context: Context {
                    subject: delivery.subject.into(),
                    metadata,
                    spec,
                    method,
                    params,
                    deadline: Some(received + timeout),
                    cancel: CancellationToken::new(),
                    encoding,
                },
            };
            let _cancel_on_drop = call.context.cancel.clone().drop_guard();
            let outcome = receiver.start(call).instrument(span).await;
            let error = outcome.err();
            if let Some(status) = &error {
                observe::log_failure(status);
            }
            receiver.stats.record(method, received, error.as_ref());
            ended.done(error.as_ref().map(Status::code));
            match error {
                None => Ok(()),
                Some(status) if super::call::is_undecodable(&status) => {
                    Err(Failure::Decode(status.message().to_owned()))
                }
                Some(status) => Err(Failure::Status(status)),
            }
        }
    }

    /// Runs `task` (the rest of a request) in a task of its own; one that
    /// can be answered is registered by its reply subject until it ends,
    /// so its caller's cancellation finds it.
    fn spawn(
        self: &Arc<Self>,
        reply: Option<Subject>,
        task: impl Future<Output = ()> + Send + 'static,
    ) {
        let Some(reply) = reply else {
            self.shared.spawn(task);
            return;
        };
        let key = reply.to_string();
        let receiver = self.clone();
        // Registered under the lock the task takes to leave, so a task that
        // ends at once cannot leave before it is entered.
        let mut running = lock(&self.running);
        let handle = self.shared.spawn(async move {
            task.await;
            lock(&receiver.running).remove(&*reply);
        });
        running.insert(key, handle.abort_handle());
    }

    /// Opens a stream call (the stream's subscriptions), runs it and ends
    /// it; returns its status code (`None`: OK).
    async fn serve_stream(&self, routed: Routed, received: Instant) -> Option<Code> {
        let method = routed.method;
        let answer = Answer::of(&routed);
        let kind = self.service.spec().methods[method].kind;
        let opened = match &routed.reply_to {
            Some(reply) => stream::accept(&self.shared.nats, reply, kind, &routed.metadata)
                .await
                .map(Some),
            None => Ok(None),
        };
        let stream = match opened {
            Ok(stream) => stream,
            Err(status) => {
                let code = status.code();
                let rejected = Rejected {
                    status,
                    method: Some(method),
                    reply_to: answer.to,
                    encoding: answer.encoding,
                    delivery: answer.delivery,
                };
                self.reject(rejected, received).await;
                return Some(code);
            }
        };
        // Streams live as long as both sides' heartbeats say.
        let call = call_of(routed, None, stream);
        let cancel_on_drop = call.context.cancel.clone().drop_guard();
        let executed = execute(self.start(call), None).await;
        drop(cancel_on_drop);
        self.finish(method, executed, answer, received).await
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
            spec,
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

    /// Starts the call's handler, through the server's layers if any; a
    /// panic, in the handler or a layer, is an `INTERNAL` status.
    fn start(
        &self,
        call: Call,
    ) -> Either<layer::Running, BoxFuture<'static, Result<Reply, Status>>> {
        let Some(stack) = &self.layered else {
            return Either::Left(layer::run(&*self.service, call, self.panics));
        };
        // Handler panics reach the layers as statuses; this catches the
        // layers' own.
        let (spec, method, panics) = (self.service.spec(), call.context.method, self.panics);
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

    /// Sends the handler's outcome, logs a failure and counts it; returns
    /// the outcome's code (`None`: OK).
    async fn finish(
        &self,
        method: usize,
        executed: Executed,
        answer: Answer,
        received: Instant,
    ) -> Option<Code> {
        let replier = &self.replier;
        let Answer {
            to,
            encoding,
            delivery,
        } = answer;
        let error = match (executed, to) {
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

/// Where and how a request is answered.
#[derive(Clone)]
struct Answer {
    /// `None` for fire-and-forget methods: never answered.
    to: Option<Subject>,
    encoding: Encoding,
    delivery: Delivery,
}

impl Answer {
    fn of(r: &Routed) -> Self {
        Self {
            to: r.reply_to.clone(),
            encoding: r.encoding,
            delivery: r.delivery,
        }
    }
}

/// A request's deadline: receipt plus its `Nrpc-Timeout`; streams have
/// none.
fn deadline_of(r: &Routed, received: Instant) -> Option<Instant> {
    crate::message::get(&r.metadata, headers::TIMEOUT)
        .and_then(headers::parse_timeout)
        // A deadline too far away to represent is no deadline.
        .and_then(|timeout| received.checked_add(timeout))
}

/// The call a handler gets, with a fresh cancellation token.
fn call_of(r: Routed, deadline: Option<Instant>, stream: Option<StreamContext>) -> Call {
    Call {
        payload: r.payload,
        stream,
        context: Context {
            subject: r.subject,
            metadata: r.metadata,
            spec: r.spec,
            method: r.method,
            params: r.params,
            deadline,
            cancel: CancellationToken::new(),
            encoding: r.encoding,
        },
    }
}

/// Runs a started handler until it ends or the deadline passes.
async fn execute(
    outcome: impl Future<Output = Result<Reply, Status>>,
    deadline: Option<Instant>,
) -> Executed {
    match deadline {
        Some(d) => match tokio::time::timeout_at(d, outcome).await {
            Ok(r) => Executed::Done(r),
            Err(_) => Executed::TimedOut,
        },
        None => Executed::Done(outcome.await),
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
struct Ended {
    receiver: Arc<Receiver>,
    method: usize,
    received: Instant,
    span: tracing::Span,
    /// The outcome's code (`None`: OK), once it finished.
    code: Option<Code>,
    finished: bool,
}

impl Ended {
    /// The request finished with `code` (`None`: OK).
    fn done(mut self, code: Option<Code>) {
        self.code = code;
        self.finished = true;
    }
}

impl Drop for Ended {
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
