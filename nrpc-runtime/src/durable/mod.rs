//! Durable commands and events over JetStream (feature `jetstream`):
//! streams provisioned from a method's declaration and checked against it,
//! publishing that returns the broker's acknowledgement, and consumers
//! that ack, retry along the policy's backoff, dead-letter with a reason
//! and replay. The rules (policies, names, retries, dead letters, stream
//! shapes) live in [`nrpc_wire::durable`]; `docs/PROTOCOL.md` §11 says
//! them in prose.
//!
//! Services use this through generated code: a method declared durable
//! (`(nrpc.durable)` in a `.proto`, `durable(…)` in `#[nats_service]`) is
//! published with [`ServiceClient::publish_durable`](crate::ServiceClient::publish_durable),
//! consumed as an event group with
//! [`ServiceClient::consume_events`](crate::ServiceClient::consume_events),
//! and served as a command by [`Server`](crate::Server). The guide is
//! [`crate::guide::durable`].

mod consume;
mod letters;

pub(crate) use consume::Failure;
pub use consume::{ConsumerHandle, ConsumerSpec, Delivery, Start};
pub use letters::Letter;

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use tokio::time::Instant;

pub use nrpc_wire::durable::{
    Difference, Durability, Policy, PolicyError, Retention, Storage, StreamShape,
};

use crate::{Connection, HeaderMap};

/// How long a publish waits between attempts while the broker cannot
/// confirm (restarting, electing a leader).
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// The broker's acknowledgement of a durable publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The stream that holds the message.
    pub stream: String,
    /// Its sequence there.
    pub sequence: u64,
    /// The stream already had a message with this id (within its
    /// duplicate window): this one was not stored again.
    pub duplicate: bool,
}

/// Why provisioning or publishing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DurableError {
    /// An existing stream differs from the declaration in a way that is
    /// not changed silently.
    #[error("stream {stream} differs from the declaration: {}", list(.differences))]
    Mismatch {
        /// The stream.
        stream: String,
        /// How.
        differences: Vec<Difference>,
    },
    /// The declaration itself is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// No stream stores the subject (still none at the deadline).
    #[error("no stream stores {subject}: is the method provisioned?")]
    NoStream {
        /// The subject published to.
        subject: String,
    },
    /// The broker did not confirm in time: the message may be stored (if
    /// it was sent before the connection or the broker failed) or not (it
    /// is never sent while the connection is down). Publishing again with
    /// the same message id is safe: a stored message is not stored twice.
    #[error("the broker did not confirm within {0:?}; publishing again with the same id is safe")]
    Timeout(Duration),
    /// The message is larger than the broker takes.
    #[error("the message is larger than the broker's max_payload: {0}")]
    TooLarge(String),
    /// What JetStream answered otherwise.
    #[error("JetStream: {0}")]
    JetStream(String),
}

impl DurableError {
    /// The status code that describes it: `FAILED_PRECONDITION` for a
    /// stream that differs from the declaration, `INVALID_ARGUMENT` for a
    /// bad policy, `DEADLINE_EXCEEDED` for a timeout, `RESOURCE_EXHAUSTED`
    /// for a message too large, `UNAVAILABLE` otherwise (no stream, the
    /// broker's JetStream unreachable).
    pub fn code(&self) -> crate::Code {
        use crate::Code;
        match self {
            DurableError::Mismatch { .. } => Code::FailedPrecondition,
            DurableError::Policy(_) => Code::InvalidArgument,
            DurableError::Timeout(_) => Code::DeadlineExceeded,
            DurableError::TooLarge(_) => Code::ResourceExhausted,
            DurableError::NoStream { .. } | DurableError::JetStream(_) => Code::Unavailable,
        }
    }
}

fn list(differences: &[Difference]) -> String {
    differences
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// JetStream on an nrpc connection.
#[derive(Debug, Clone)]
pub struct Durable {
    conn: Connection,
    js: jetstream::Context,
}

impl Durable {
    /// JetStream on `conn`.
    pub fn new(conn: &Connection) -> Self {
        Durable {
            conn: conn.clone(),
            js: jetstream::new(conn.nats().clone()),
        }
    }

    /// Creates the stream `name` as `shape` says, or checks the existing
    /// one: a difference is [`DurableError::Mismatch`] naming each field,
    /// unless `update` is set and every difference can be changed on a
    /// live stream (subjects, replicas, max age, duplicate window), in
    /// which case the stream is updated. Never a silent change.
    pub async fn provision_stream(
        &self,
        name: &str,
        shape: &StreamShape,
        update: bool,
    ) -> Result<(), DurableError> {
        let js_error = |e: &dyn std::fmt::Display| DurableError::JetStream(e.to_string());
        let wanted = config(name, shape);
        match self.js.get_stream(name).await {
            Ok(mut existing) => {
                let found = existing
                    .info()
                    .await
                    .map_err(|e| js_error(&e))?
                    .config
                    .clone();
                let differences = shape.differences(&shape_of(&found));
                if differences.is_empty() {
                    return Ok(());
                }
                if !update || differences.iter().any(|d| !d.updatable) {
                    return Err(DurableError::Mismatch {
                        stream: name.to_owned(),
                        differences,
                    });
                }
                let updated = stream::Config {
                    subjects: wanted.subjects,
                    num_replicas: wanted.num_replicas,
                    max_age: wanted.max_age,
                    duplicate_window: wanted.duplicate_window,
                    ..found
                };
                self.js
                    .update_stream(updated)
                    .await
                    .map(drop)
                    .map_err(|e| js_error(&e))
            }
            Err(e) if is_not_found(&e) => self
                .js
                .create_stream(wanted)
                .await
                .map(drop)
                .map_err(|e| js_error(&e)),
            Err(e) => Err(js_error(&e)),
        }
    }

    /// Publishes `payload` to `subject` with `msg_id` as its
    /// `Nats-Msg-Id` and returns the broker's acknowledgement. While the
    /// broker cannot confirm (restarting, no stream yet, a lost ack), the
    /// same message is published again with the same id — stored once —
    /// until `timeout`, which bounds the whole call; while the connection
    /// is down it waits for it instead of buffering the message.
    pub async fn publish(
        &self,
        subject: &str,
        headers: Option<HeaderMap>,
        payload: Bytes,
        msg_id: &str,
        timeout: Duration,
    ) -> Result<Stored, DurableError> {
        use jetstream::context::PublishErrorKind as Kind;
        let deadline = Instant::now() + timeout;
        let mut headers = headers.unwrap_or_default();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id);
        let mut last = None;
        loop {
            // Never into the client's buffer while the connection is down:
            // a message buffered there would go out after its caller gave up.
            if tokio::time::timeout_at(deadline, self.conn.connected())
                .await
                .is_err()
            {
                return Err(give_up(subject, timeout, last));
            }
            let message = jetstream::message::PublishMessage::build()
                .payload(payload.clone())
                .headers(headers.clone());
            let attempt = async {
                self.js
                    .send_publish(subject.to_owned(), message)
                    .await?
                    .await
            };
            let error = match tokio::time::timeout_at(deadline, attempt).await {
                Err(_) => return Err(give_up(subject, timeout, last)),
                Ok(Ok(ack)) => {
                    if ack.duplicate {
                        #[cfg(feature = "metrics")]
                        metrics::counter!("nrpc_durable_duplicates_total", "stream" => ack.stream.clone())
                            .increment(1);
                    }
                    return Ok(Stored {
                        stream: ack.stream,
                        sequence: ack.sequence,
                        duplicate: ack.duplicate,
                    });
                }
                Ok(Err(e)) => e,
            };
            match error.kind() {
                Kind::MaxPayloadExceeded => return Err(DurableError::TooLarge(error.to_string())),
                Kind::WrongLastMessageId | Kind::WrongLastSequence => {
                    return Err(DurableError::JetStream(error.to_string()))
                }
                // A broker that is restarting answers "no stream" until it
                // has loaded its streams: tried again, then said.
                kind => last = Some(kind),
            }
            if Instant::now() + RETRY_PAUSE >= deadline {
                return Err(give_up(subject, timeout, last));
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}

/// How far behind the consumers of one durable stream are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// The stream.
    pub stream: String,
    /// Messages it holds.
    pub messages: u64,
    /// Each consumer (subscriber group), by name.
    pub consumers: Vec<ConsumerBacklog>,
}

/// How far behind one consumer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerBacklog {
    /// The consumer's name (`nrpc` for a command's).
    pub name: String,
    /// Messages not delivered yet: its lag.
    pub pending: u64,
    /// Delivered and not settled yet.
    pub ack_pending: u64,
    /// Messages delivered more than once, not settled yet.
    pub redelivered: u64,
}

/// The durable streams of one service and its dead letters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceBacklog {
    /// Each durable method's stream that exists, by name.
    pub streams: Vec<Backlog>,
    /// Dead letters held.
    pub dead_letters: u64,
}

impl Durable {
    /// The backlog of every durable stream of `service` (its full name):
    /// the streams named for its methods (`NRPC_<service>_<method>`) that
    /// exist, and its dead letters. Empty if it has none, or the broker
    /// has no JetStream.
    pub async fn service_backlog(&self, service: &str) -> Result<ServiceBacklog, DurableError> {
        use futures::TryStreamExt;
        let js_error = |e: &dyn std::fmt::Display| DurableError::JetStream(e.to_string());
        let prefix = nrpc_wire::durable::stream_name(service, "");
        let names: Vec<String> = match self.js.stream_names().try_collect().await {
            Ok(names) => names,
            // No JetStream: nobody answers its API.
            Err(e) if no_jetstream(&e) => return Ok(ServiceBacklog::default()),
            Err(e) => return Err(js_error(&e)),
        };
        let mut out = ServiceBacklog::default();
        let mut ours: Vec<&String> = names.iter().filter(|n| n.starts_with(&prefix)).collect();
        ours.sort();
        for name in ours {
            if let Some(backlog) = self.backlog(name).await? {
                out.streams.push(backlog);
            }
        }
        let letters = nrpc_wire::durable::dead_letter_stream(service);
        if names.contains(&letters) {
            out.dead_letters = self.backlog(&letters).await?.map_or(0, |b| b.messages);
        }
        Ok(out)
    }

    /// The backlog of durable stream `stream`, or `None` if there is no
    /// such stream (or the broker has no JetStream).
    pub async fn backlog(&self, stream: &str) -> Result<Option<Backlog>, DurableError> {
        use futures::TryStreamExt;
        let js_error = |e: &dyn std::fmt::Display| DurableError::JetStream(e.to_string());
        let mut found = match self.js.get_stream(stream).await {
            Ok(found) => found,
            Err(e) if is_not_found(&e) || no_jetstream(&e) => return Ok(None),
            Err(e) => return Err(js_error(&e)),
        };
        let messages = found.info().await.map_err(|e| js_error(&e))?.state.messages;
        let mut consumers: Vec<ConsumerBacklog> = found
            .consumers()
            .map_ok(|c| ConsumerBacklog {
                name: c.name,
                pending: c.num_pending,
                ack_pending: c.num_ack_pending as u64,
                redelivered: c.num_redelivered as u64,
            })
            .try_collect()
            .await
            .map_err(|e| js_error(&e))?;
        consumers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Some(Backlog {
            stream: stream.to_owned(),
            messages,
            consumers,
        }))
    }
}

/// Whether JetStream said the stream does not exist.
fn is_not_found(e: &jetstream::context::GetStreamError) -> bool {
    matches!(
        e.kind(),
        jetstream::context::GetStreamErrorKind::JetStream(e)
            if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
    )
}

/// Whether nobody answered the JetStream API (somewhere in `e`'s chain of
/// causes): the broker has no JetStream.
fn no_jetstream(e: &(dyn std::error::Error + 'static)) -> bool {
    use jetstream::context::{RequestError, RequestErrorKind};
    let mut cause = Some(e);
    while let Some(e) = cause {
        let nobody = e
            .downcast_ref::<RequestError>()
            .is_some_and(|r| r.kind() == RequestErrorKind::NoResponders)
            || e.downcast_ref::<async_nats::RequestError>()
                .is_some_and(|r| r.kind() == async_nats::RequestErrorKind::NoResponders);
        if nobody {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The error of a publish that ran out of time after `last` failed.
fn give_up(
    subject: &str,
    timeout: Duration,
    last: Option<jetstream::context::PublishErrorKind>,
) -> DurableError {
    match last {
        Some(jetstream::context::PublishErrorKind::StreamNotFound) => DurableError::NoStream {
            subject: subject.to_owned(),
        },
        _ => DurableError::Timeout(timeout),
    }
}

/// The JetStream configuration of a stream of `shape`.
fn config(name: &str, shape: &StreamShape) -> stream::Config {
    stream::Config {
        name: name.to_owned(),
        subjects: shape.subjects.clone(),
        retention: match shape.retention {
            Retention::WorkQueue => stream::RetentionPolicy::WorkQueue,
            Retention::Limits => stream::RetentionPolicy::Limits,
            Retention::Interest => stream::RetentionPolicy::Interest,
        },
        storage: match shape.storage {
            Storage::File => stream::StorageType::File,
            Storage::Memory => stream::StorageType::Memory,
        },
        num_replicas: usize::from(shape.replicas),
        max_age: shape.max_age.unwrap_or_default(),
        duplicate_window: shape.duplicate_window,
        ..Default::default()
    }
}

/// The shape of an existing stream's configuration.
fn shape_of(config: &stream::Config) -> StreamShape {
    StreamShape {
        subjects: config.subjects.clone(),
        retention: match config.retention {
            stream::RetentionPolicy::WorkQueue => Retention::WorkQueue,
            stream::RetentionPolicy::Limits => Retention::Limits,
            stream::RetentionPolicy::Interest => Retention::Interest,
        },
        storage: match config.storage {
            stream::StorageType::File => Storage::File,
            stream::StorageType::Memory => Storage::Memory,
        },
        replicas: u8::try_from(config.num_replicas).unwrap_or(u8::MAX),
        max_age: (!config.max_age.is_zero()).then_some(config.max_age),
        duplicate_window: config.duplicate_window,
    }
}
