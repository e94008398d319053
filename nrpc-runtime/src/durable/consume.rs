//! The durable consumer: pulls within the handler concurrency, runs the
//! handler under its timeout with progress acks, and acks, NAKs with the
//! policy's delay, or writes a dead letter (awaiting it) and then
//! terminates — NAKing if the dead letter cannot be written.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::{self, AckKind};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use nrpc_wire::durable::{
    dead_letter_id, dead_letter_shape, dead_letter_stream, dead_letter_subject, disposition,
    max_deliveries_advisory, DeadLetter, Disposition, Reason, ADVISORY_QUEUE,
};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Durable, DurableError, Policy};
use crate::{Code, HeaderMap, Status};

/// How long one pull waits for messages: a shutdown waits for the pull
/// in progress to end (what it brings is NAKed), so at most this long.
const PULL_EXPIRY: Duration = Duration::from_secs(1);

/// The longest pause between attempts to make a lost consumer again.
const MAX_RETRY: Duration = Duration::from_secs(5);

/// How long a shutdown waits for dropped handlers' NAKs to go out.
const SETTLE: Duration = Duration::from_secs(5);

/// One message given to a durable handler.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The subject it was published to.
    pub subject: String,
    /// Its headers.
    pub headers: Option<HeaderMap>,
    /// Its payload.
    pub payload: Bytes,
    /// Which delivery this is: 1 for the first.
    pub delivered: u64,
    /// Its sequence in the stream.
    pub sequence: u64,
}

/// What a durable consumer consumes, and how.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// The service's full name (its dead-letter stream is named after it).
    pub service: String,
    /// The stream.
    pub stream: String,
    /// The durable consumer's name.
    pub consumer: String,
    /// The subject it takes from the stream.
    pub subject: String,
    /// Deliveries, retries, timeouts, concurrency, dead letters.
    pub policy: Policy,
    /// Where a new consumer starts (an existing one goes on where it
    /// was). Commands: always [`Start::All`].
    pub start: Start,
}

/// Where a new consumer starts in its stream: replay for events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Start {
    /// From the first message the stream still has.
    #[default]
    All,
    /// With messages published from now on.
    New,
    /// From this stream sequence.
    Sequence(u64),
    /// From the first message stored at or after this instant.
    Time(SystemTime),
}

impl Start {
    fn deliver_policy(self) -> jetstream::consumer::DeliverPolicy {
        use jetstream::consumer::DeliverPolicy;
        match self {
            Start::All => DeliverPolicy::All,
            Start::New => DeliverPolicy::New,
            Start::Sequence(start_sequence) => DeliverPolicy::ByStartSequence { start_sequence },
            Start::Time(at) => DeliverPolicy::ByStartTime {
                start_time: time::OffsetDateTime::from(at),
            },
        }
    }
}

/// A running durable consumer: stop it with [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct ConsumerHandle {
    stop: CancellationToken,
    /// Fired when the grace has passed: handlers still running are
    /// dropped and their messages NAKed.
    abort: CancellationToken,
    pulling: tokio::task::JoinHandle<()>,
    running: TaskTracker,
    /// Flushed last: the final acks and NAKs reach the broker even if this
    /// was the connection's last user.
    nats: async_nats::Client,
}

impl ConsumerHandle {
    /// Stops pulling (the pull in progress ends within a second), NAKs
    /// what that pull still brings (another instance gets it when the pull
    /// has expired, within that second, instead of after the ack wait),
    /// and lets the handlers in progress finish within `grace` (they keep sending
    /// progress acks); those still running then are dropped and their
    /// messages NAKed. Returns once every message is settled and the
    /// settlements are written to the broker (or, if it is unreachable,
    /// after a further bound).
    pub async fn shutdown(self, grace: Duration) {
        self.stop.cancel();
        let _ = self.pulling.await;
        self.running.close();
        if tokio::time::timeout(grace, self.running.wait())
            .await
            .is_err()
        {
            self.abort.cancel();
            let _ = tokio::time::timeout(SETTLE, self.running.wait()).await;
        }
        let _ = tokio::time::timeout(SETTLE, self.nats.flush()).await;
    }
}

impl Durable {
    /// Consumes `spec.subject` of `spec.stream` with `handler` until the
    /// handle is shut down: at most `concurrency` messages at once, each
    /// acked when the handler succeeds, retried after the policy's delay
    /// when it fails with a retryable code (a panic is `INTERNAL`, a
    /// timeout `DEADLINE_EXCEEDED`), and otherwise — or on its last
    /// delivery — copied to the service's dead-letter stream with the
    /// reason and then terminated.
    pub async fn consume<H, Fut>(
        &self,
        spec: ConsumerSpec,
        handler: H,
    ) -> Result<ConsumerHandle, DurableError>
    where
        H: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Status>> + Send + 'static,
    {
        self.run(spec, move |delivery| {
            handler(delivery).map(|done| done.map_err(Failure::Status))
        })
        .await
    }

    /// [`consume`](Self::consume) with each payload decoded as a protobuf
    /// `T` first: one that does not decode goes to the dead letters at
    /// once, with reason `decode`, and never reaches the handler.
    pub async fn consume_decoded<T, H, Fut>(
        &self,
        spec: ConsumerSpec,
        handler: H,
    ) -> Result<ConsumerHandle, DurableError>
    where
        T: prost::Message + Default + Send + 'static,
        H: Fn(T, Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Status>> + Send + 'static,
    {
        self.run(spec, move |delivery: Delivery| {
            match T::decode(delivery.payload.clone()) {
                Ok(decoded) => handler(decoded, delivery)
                    .map(|done| done.map_err(Failure::Status))
                    .left_future(),
                Err(e) => {
                    let why = format!(
                        "the payload is not a valid {}: {e}",
                        std::any::type_name::<T>()
                    );
                    futures::future::ready(Err(Failure::Decode(why))).right_future()
                }
            }
        })
        .await
    }

    pub(crate) async fn run<H, Fut>(
        &self,
        spec: ConsumerSpec,
        handler: H,
    ) -> Result<ConsumerHandle, DurableError>
    where
        H: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Failure>> + Send + 'static,
    {
        spec.policy.validate()?;
        let js_error = |e: &dyn std::fmt::Display| DurableError::JetStream(e.to_string());
        if spec.policy.dead_letter {
            let shape = dead_letter_shape(&spec.service, spec.policy.replicas);
            self.provision_stream(&dead_letter_stream(&spec.service), &shape, false)
                .await?;
        }
        let stream = self
            .js
            .get_stream(&spec.stream)
            .await
            .map_err(|e| js_error(&e))?;
        let policy = &spec.policy;
        let config = pull::Config {
            durable_name: Some(spec.consumer.clone()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: policy.ack_wait,
            max_deliver: i64::from(policy.max_deliveries),
            max_ack_pending: policy.max_ack_pending(),
            filter_subject: spec.subject.clone(),
            deliver_policy: spec.start.deliver_policy(),
            ..Default::default()
        };
        let mut consumer: jetstream::consumer::PullConsumer = stream
            .get_or_create_consumer(&spec.consumer, config.clone())
            .await
            .map_err(|e| js_error(&e))?;
        let stop = CancellationToken::new();
        let abort = CancellationToken::new();
        let running = TaskTracker::new();
        // Messages in hand (fetched, not settled): those running and one
        // batch waiting for a slot, so the next pull is on its way while
        // handlers run.
        let in_hand = Arc::new(Semaphore::new(policy.in_hand()));
        let slots = Arc::new(Semaphore::new(policy.concurrency as usize));
        let release = CancellationToken::new();
        if spec.policy.dead_letter {
            let advisories = max_deliveries(self, &spec, stop.clone()).await?;
            running.spawn(advisories);
        }
        let shared = Arc::new(Shared {
            durable: self.clone(),
            metrics: Metrics::new(&spec.stream, &spec.consumer),
            spec,
            handler,
            abort: abort.clone(),
            slots,
            release: release.clone(),
        });
        let pulling = {
            let (stop, running) = (stop.clone(), running.clone());
            let batch = shared.spec.policy.batch();
            let name = shared.spec.consumer.clone();
            let mut retry = PULL_EXPIRY / 4;
            tokio::spawn(async move {
                loop {
                    // Room first: nothing is fetched beyond what is in hand.
                    let first = tokio::select! {
                        // Stopping first: free room must not start a pull
                        // after a shutdown began.
                        biased;
                        () = stop.cancelled() => break,
                        room = in_hand.clone().acquire_owned() => match room {
                            Ok(room) => room,
                            Err(_) => break,
                        },
                    };
                    let mut free = vec![first];
                    while free.len() < batch {
                        match in_hand.clone().try_acquire_owned() {
                            Ok(room) => free.push(room),
                            Err(_) => break,
                        }
                    }
                    let expires = Instant::now() + PULL_EXPIRY;
                    let pulled = consumer
                        .batch()
                        .max_messages(free.len())
                        .expires(PULL_EXPIRY)
                        .messages()
                        .await;
                    let mut troubled = pulled.is_err();
                    if let Ok(mut messages) = pulled {
                        // The batch ends with its last message or its
                        // expiry; what comes after a shutdown began goes
                        // back.
                        while let Some(message) = messages.next().await {
                            let message = match message {
                                Ok(message) => message,
                                Err(e) => {
                                    tracing::debug!(error = %e, "nrpc durable: pull");
                                    troubled = true;
                                    continue;
                                }
                            };
                            match free.pop() {
                                Some(room) if !stop.is_cancelled() => {
                                    // Its first step here: a handler done at
                                    // once (the common case) needs no task.
                                    let shared = shared.clone();
                                    let mut task = Box::pin(async move {
                                        shared.start(message).await;
                                        drop(room);
                                    });
                                    let first = std::future::poll_fn(|cx| {
                                        Poll::Ready(task.as_mut().poll(cx))
                                    })
                                    .await;
                                    if first.is_pending() {
                                        running.spawn(task);
                                    }
                                }
                                _ => {
                                    // Back to the stream, but not before this
                                    // pull expires: NAKed at once, it would come
                                    // straight back to it, spending a delivery
                                    // each time.
                                    let _ = message
                                        .ack_with(AckKind::Nak(Some(
                                            expires.saturating_duration_since(Instant::now()),
                                        )))
                                        .await;
                                }
                            }
                        }
                    }
                    if stop.is_cancelled() {
                        break;
                    }
                    if !troubled {
                        retry = PULL_EXPIRY / 4;
                        continue;
                    }
                    // A pull that failed: the consumer may be gone (deleted,
                    // expired, lost with a leader): made again as declared.
                    match stream.get_or_create_consumer(&name, config.clone()).await {
                        Ok(again) => consumer = again,
                        Err(e) => {
                            tracing::warn!(error = %e, consumer = %name, "nrpc durable: the consumer cannot be made again");
                        }
                    }
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(retry) => {}
                    }
                    retry = (retry * 2).min(MAX_RETRY);
                }
                // No pull is out any more: what waits for a slot goes back
                // at once.
                release.cancel();
            })
        };
        Ok(ConsumerHandle {
            stop,
            abort,
            pulling,
            running,
            nats: self.conn.nats().clone(),
        })
    }
}

/// What the handling tasks of one consumer share.
struct Shared<H> {
    durable: Durable,
    spec: ConsumerSpec,
    handler: H,
    abort: CancellationToken,
    metrics: Metrics,
    /// Handlers running at once.
    slots: Arc<Semaphore>,
    /// Fired when a shutdown has ended the pulls: messages waiting for a
    /// slot are NAKed.
    release: CancellationToken,
}

/// Why a handler did not handle a message.
pub(crate) enum Failure {
    /// The handler's status.
    Status(Status),
    /// The payload does not decode (the handler never ran).
    Decode(String),
}

impl<H, Fut> Shared<H>
where
    H: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Failure>> + Send + 'static,
{
    /// Waits for a slot (telling the broker the message is in progress
    /// meanwhile), then handles the message; NAKs it if a shutdown comes
    /// first.
    async fn start(&self, message: jetstream::Message) {
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                let every = self.spec.policy.progress_interval();
                let mut progress = tokio::time::interval_at(Instant::now() + every, every);
                loop {
                    tokio::select! {
                        biased;
                        () = self.release.cancelled() => {
                            let _ = message.ack_with(AckKind::Nak(None)).await;
                            return;
                        }
                        slot = self.slots.clone().acquire_owned() => match slot {
                            Ok(slot) => break slot,
                            Err(_) => return,
                        },
                        _ = progress.tick() => {
                            let _ = message.ack_with(AckKind::Progress).await;
                        }
                    }
                }
            }
        };
        self.handle(message).await;
        drop(slot);
    }

    /// Runs one delivery and settles it.
    async fn handle(&self, message: jetstream::Message) {
        let (delivered, sequence) = match message.info() {
            Ok(info) => {
                self.metrics.lag(info.pending);
                (
                    u64::try_from(info.delivered).unwrap_or(1),
                    info.stream_sequence,
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, "nrpc durable: a message without its metadata");
                return;
            }
        };
        let policy = &self.spec.policy;
        let delivery = Delivery {
            subject: message.subject.to_string(),
            headers: message.headers.clone(),
            payload: message.payload.clone(),
            delivered,
            sequence,
        };
        // A panic making the future or running it is the same failure.
        let running = match std::panic::catch_unwind(AssertUnwindSafe(|| (self.handler)(delivery)))
        {
            Ok(future) => AssertUnwindSafe(future).catch_unwind().left_future(),
            Err(panic) => futures::future::ready(Err(panic)).right_future(),
        };
        let started = Instant::now();
        let mut running = std::pin::pin!(running);
        // A handler done at its first step (the common case) costs no
        // timer: the timeout, the progress acks and the shutdown watch
        // start only for one that waits.
        let first = std::future::poll_fn(|cx| Poll::Ready(running.as_mut().poll(cx))).await;
        let finished = match first {
            Poll::Ready(outcome) => Ok(outcome),
            Poll::Pending => match self.wait(&message, running, started).await {
                Some(finished) => finished,
                None => return,
            },
        };
        self.metrics.handled(delivered, started.elapsed());
        let outcome = match finished {
            Err(_) => Err(Status::new(
                Code::DeadlineExceeded,
                format!(
                    "the handler ran past its timeout of {:?}",
                    policy.handler_timeout
                ),
            )),
            Ok(Err(_)) => Err(Status::new(Code::Internal, "the handler panicked")),
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(Failure::Status(status)))) => Err(status),
            Ok(Ok(Err(Failure::Decode(why)))) => {
                self.metrics.dead_lettered(Reason::Decode);
                let status = Status::new(Code::InvalidArgument, why);
                let settled = self
                    .dead_letter(&message, Reason::Decode, Some(&status), delivered, sequence)
                    .await;
                if let Err(e) = settled {
                    tracing::warn!(error = %e, sequence, "nrpc durable: settling a message");
                }
                return;
            }
        };
        let code = outcome.as_ref().err().map(Status::code);
        let settled = match disposition(
            outcome.as_ref().map_err(Status::code).copied(),
            delivered,
            policy,
        ) {
            Disposition::Ack => {
                self.metrics.acked();
                message.ack().await
            }
            Disposition::Retry(delay) => {
                self.metrics.retried();
                message.ack_with(AckKind::Nak(Some(delay))).await
            }
            Disposition::DeadLetter(reason) => {
                self.metrics.dead_lettered(reason);
                let status = outcome.err();
                self.dead_letter(&message, reason, status.as_ref(), delivered, sequence)
                    .await
            }
        };
        if let Err(e) = settled {
            tracing::warn!(error = %e, ?code, sequence, "nrpc durable: settling a message");
        }
    }

    /// Runs a handler that did not finish at its first step: under its
    /// timeout (from `started`), with progress acks, unless a shutdown
    /// past its grace drops it (then NAKed: `None`).
    async fn wait<T>(
        &self,
        message: &jetstream::Message,
        mut running: std::pin::Pin<&mut impl Future<Output = T>>,
        started: Instant,
    ) -> Option<Result<T, tokio::time::error::Elapsed>> {
        let policy = &self.spec.policy;
        let with_progress = async {
            let every = policy.progress_interval();
            let mut progress = tokio::time::interval_at(Instant::now() + every, every);
            loop {
                tokio::select! {
                    biased;
                    outcome = &mut running => break outcome,
                    _ = progress.tick() => {
                        let _ = message.ack_with(AckKind::Progress).await;
                    }
                }
            }
        };
        let timed = tokio::time::timeout_at(started + policy.handler_timeout, with_progress);
        tokio::select! {
            finished = timed => Some(finished),
            () = self.abort.cancelled() => {
                // Shut down past its grace: dropped, back to the stream.
                let _ = message.ack_with(AckKind::Nak(None)).await;
                None
            }
        }
    }

    /// Writes the dead letter (awaiting the broker), then terminates the
    /// original; if the copy cannot be written, NAKs it instead.
    async fn dead_letter(
        &self,
        message: &jetstream::Message,
        reason: Reason,
        status: Option<&Status>,
        delivered: u64,
        sequence: u64,
    ) -> Result<(), async_nats::Error> {
        let spec = &self.spec;
        if !spec.policy.dead_letter {
            tracing::warn!(
                stream = %spec.stream, sequence, reason = reason.as_str(),
                "nrpc durable: a message that cannot be handled is dropped (dead letters are off)"
            );
            return message.ack_with(AckKind::Term).await;
        }
        let original = Original {
            subject: message.subject.as_str(),
            headers: message.headers.as_ref(),
            payload: &message.payload,
            sequence,
            delivered,
        };
        match write_dead_letter(&self.durable, spec, &original, reason, status).await {
            Ok(()) => message.ack_with(AckKind::Term).await,
            Err(e) => {
                // Never dropped: back to the stream, to try again.
                tracing::warn!(error = %e, sequence, "nrpc durable: writing a dead letter");
                let delay = spec.policy.retry_delay(delivered);
                message.ack_with(AckKind::Nak(Some(delay))).await
            }
        }
    }
}

/// A message to copy to the dead letters.
struct Original<'a> {
    subject: &'a str,
    headers: Option<&'a HeaderMap>,
    payload: &'a Bytes,
    sequence: u64,
    delivered: u64,
}

/// Writes the dead letter of `original`, awaiting the broker. Its id
/// (`<stream>:<consumer>:<sequence>`) makes a second copy — the advisory path meeting
/// the handler path — a duplicate the stream drops.
async fn write_dead_letter(
    durable: &Durable,
    spec: &ConsumerSpec,
    original: &Original<'_>,
    reason: Reason,
    status: Option<&Status>,
) -> Result<(), DurableError> {
    let time_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let letter = DeadLetter {
        reason,
        status,
        subject: original.subject,
        stream: &spec.stream,
        sequence: original.sequence,
        deliveries: original.delivered,
        consumer: &spec.consumer,
        time_ms,
    };
    let mut headers = original.headers.cloned().unwrap_or_default();
    for (name, value) in letter.headers() {
        headers.insert(name, value.as_str());
    }
    durable
        .publish(
            &dead_letter_subject(&spec.service, &spec.stream),
            Some(headers),
            original.payload.clone(),
            &dead_letter_id(&spec.stream, &spec.consumer, original.sequence),
            spec.policy.ack_wait,
        )
        .await
        .map(drop)
}

/// The broker's MAX_DELIVERIES advisory (the fields nrpc reads).
#[derive(serde::Deserialize)]
struct MaxDeliveries {
    stream_seq: u64,
    deliveries: u64,
}

/// Catches the messages that used up their deliveries without a last
/// attempt settling them (an instance killed or hung on it): the broker's
/// MAX_DELIVERIES advisory, handled by one instance (queue group `nrpc`).
/// Each is copied to the dead letters (the same id as the handler path's
/// copy, so never twice) and then removed from a work-queue stream, where
/// it would otherwise stay forever.
async fn max_deliveries(
    durable: &Durable,
    spec: &ConsumerSpec,
    stop: CancellationToken,
) -> Result<impl Future<Output = ()> + Send + 'static, DurableError> {
    let js_error = |e: &dyn std::fmt::Display| DurableError::JetStream(e.to_string());
    let subject = max_deliveries_advisory(&spec.stream, &spec.consumer);
    let nats = durable.conn.nats().clone();
    let mut advisories = nats
        .queue_subscribe(subject, ADVISORY_QUEUE.to_owned())
        .await
        .map_err(|e| js_error(&e))?;
    let mut stream = durable
        .js
        .get_stream(&spec.stream)
        .await
        .map_err(|e| js_error(&e))?;
    let work_queue = stream
        .info()
        .await
        .map_err(|e| js_error(&e))?
        .config
        .retention
        == jetstream::stream::RetentionPolicy::WorkQueue;
    let (durable, spec) = (durable.clone(), spec.clone());
    let metrics = Metrics::new(&spec.stream, &spec.consumer);
    Ok(async move {
        loop {
            let advisory = tokio::select! {
                () = stop.cancelled() => break,
                advisory = advisories.next() => match advisory {
                    Some(advisory) => advisory,
                    None => break,
                },
            };
            let Ok(advisory) = serde_json::from_slice::<MaxDeliveries>(&advisory.payload) else {
                continue;
            };
            let sequence = advisory.stream_seq;
            let Ok(message) = stream.get_raw_message(sequence).await else {
                // Gone already (the handler path terminated it).
                continue;
            };
            let original = Original {
                subject: message.subject.as_str(),
                headers: Some(&message.headers),
                payload: &message.payload,
                sequence,
                delivered: advisory.deliveries,
            };
            let written =
                write_dead_letter(&durable, &spec, &original, Reason::MaxDeliveries, None).await;
            if written.is_ok() {
                metrics.dead_lettered(Reason::MaxDeliveries);
            }
            match written {
                Ok(()) if work_queue => {
                    let _ = stream.delete_message(sequence).await;
                }
                Ok(()) => {}
                Err(e) => tracing::warn!(
                    error = %e, sequence,
                    "nrpc durable: a message out of deliveries could not be dead-lettered; it stays in its stream"
                ),
            }
        }
    })
}

/// A consumer's metrics (feature `metrics`): messages acked, retried and
/// dead-lettered (by reason), redeliveries, handling time, and the lag
/// (messages not delivered yet, as of the last delivery), by stream and
/// consumer. Handles made once per consumer.
#[cfg(feature = "metrics")]
#[derive(Debug, Clone)]
struct Metrics {
    acked: metrics::Counter,
    retried: metrics::Counter,
    dead: [metrics::Counter; 4],
    redelivered: metrics::Counter,
    duration: metrics::Histogram,
    pending: metrics::Gauge,
}

#[cfg(feature = "metrics")]
impl Metrics {
    fn new(stream: &str, consumer: &str) -> Self {
        let (stream, consumer) = (stream.to_owned(), consumer.to_owned());
        let counter = |name: &'static str| metrics::counter!(name, "stream" => stream.clone(), "consumer" => consumer.clone());
        let dead = |reason: Reason| {
            metrics::counter!(
                "nrpc_durable_dead_letters_total",
                "stream" => stream.clone(),
                "consumer" => consumer.clone(),
                "reason" => reason.as_str()
            )
        };
        Metrics {
            acked: counter("nrpc_durable_acked_total"),
            retried: counter("nrpc_durable_retried_total"),
            dead: [
                dead(Reason::Decode),
                dead(Reason::Rejected),
                dead(Reason::Exhausted),
                dead(Reason::MaxDeliveries),
            ],
            redelivered: counter("nrpc_durable_redeliveries_total"),
            duration: metrics::histogram!(
                "nrpc_durable_handler_duration_seconds",
                "stream" => stream.clone(),
                "consumer" => consumer.clone()
            ),
            pending: metrics::gauge!(
                "nrpc_durable_pending",
                "stream" => stream.clone(),
                "consumer" => consumer.clone()
            ),
        }
    }

    /// The consumer's lag as the last delivery reported it.
    fn lag(&self, pending: u64) {
        self.pending.set(pending as f64);
    }

    fn handled(&self, delivered: u64, took: Duration) {
        if delivered > 1 {
            self.redelivered.increment(1);
        }
        self.duration.record(took.as_secs_f64());
    }

    fn acked(&self) {
        self.acked.increment(1);
    }

    fn retried(&self) {
        self.retried.increment(1);
    }

    fn dead_lettered(&self, reason: Reason) {
        let i = match reason {
            Reason::Decode => 0,
            Reason::Rejected => 1,
            Reason::Exhausted => 2,
            Reason::MaxDeliveries => 3,
        };
        self.dead[i].increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
#[derive(Debug, Clone)]
struct Metrics;

#[cfg(not(feature = "metrics"))]
impl Metrics {
    fn new(_: &str, _: &str) -> Self {
        Metrics
    }
    fn handled(&self, _: u64, _: Duration) {}
    fn lag(&self, _: u64) {}
    fn acked(&self) {}
    fn retried(&self) {}
    fn dead_lettered(&self, _: Reason) {}
}
