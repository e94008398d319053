//! Durable commands and events over JetStream: the rules, with no I/O.
//! The policy, names and stream shapes are always here (the code
//! generators need them); what needs a status code — retries, dead
//! letters — comes with feature `frames`. The runtime provisions streams and consumers, pulls,
//! acks and writes dead letters; what it provisions, when a failure is
//! retried and after how long, when a message is dead-lettered and with
//! which headers, and whether an existing stream matches, is decided here.
//!
//! * A **command** is a fire-and-forget method (`returns (nrpc.NoReply)`)
//!   declared durable: a work-queue stream holds each until one handler
//!   group has handled it.
//! * An **event** (`nrpc.NoRequest`) declared durable: a limits stream
//!   keeps events for a max age; every subscriber group gets each, and a
//!   new group can start from the beginning, from now, or from a sequence
//!   or a time.
//!
//! Each durable method has a stream of its own ([`stream_name`]) capturing
//! the method's subject, so peers that only know plain NATS can publish to
//! it. Handler failures are retried with delays computed here (JetStream's
//! own `backoff` applies only to ack timeouts: a plain NAK comes back at
//! once), and what cannot succeed goes to the service's dead-letter stream
//! ([`dead_letter_stream`]) with its reason before the original is
//! terminated.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

#[cfg(feature = "frames")]
use crate::Code;
use crate::{MethodKind, ServiceSpec};

/// Which durable method kind, and so which retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Work-queue retention: one handler group processes each message.
    Command,
    /// Limits retention (kept for a max age): every group gets each, and
    /// the stream can be replayed.
    Event,
}

impl Durability {
    /// Its name in schemas: `command` or `event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Command => "command",
            Durability::Event => "event",
        }
    }

    /// The durability a schema names.
    pub fn parse(text: &str) -> Option<Self> {
        [Durability::Command, Durability::Event]
            .into_iter()
            .find(|d| d.as_str() == text)
    }
}

/// Where a durable stream keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// On disk: survives broker restarts.
    File,
    /// In memory: lost when the broker stops.
    Memory,
}

/// How a durable method's messages are delivered and retried; declared in
/// the IDL or the macro, and overridable at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Deliveries of one message at most (the first included).
    pub max_deliveries: u32,
    /// The delay before each redelivery after a failure: the first entry
    /// after the first attempt, and so on; the last repeats.
    pub backoff: Cow<'static, [Duration]>,
    /// How long the broker waits for an ack before redelivering; a handler
    /// in progress extends it every half of it.
    pub ack_wait: Duration,
    /// How long one attempt may run: past it, the attempt fails
    /// (retryable) and the handler is dropped.
    pub handler_timeout: Duration,
    /// Messages one instance handles at once.
    pub concurrency: u32,
    /// How long a message id is remembered to drop duplicates.
    pub dedup_window: Duration,
    /// How long events are kept (`None`: until the stream's limits; for
    /// commands, until handled).
    pub max_age: Option<Duration>,
    /// Where the stream keeps messages.
    pub storage: Storage,
    /// Copies of the stream in a cluster (1 to 5).
    pub replicas: u8,
    /// Whether what cannot be handled goes to the dead-letter stream (else
    /// it is terminated, with a warning).
    pub dead_letter: bool,
}

/// How many instances of one group a consumer's `max_ack_pending` leaves
/// room for, each holding its [`Policy::in_hand`].
pub const GROUP_ROOM: usize = 32;

/// The default delays between attempts.
const DEFAULT_BACKOFF: &[Duration] = &[
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
];

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_deliveries: 5,
            backoff: Cow::Borrowed(DEFAULT_BACKOFF),
            ack_wait: Duration::from_secs(30),
            handler_timeout: Duration::from_secs(120),
            concurrency: 16,
            dedup_window: Duration::from_secs(120),
            max_age: None,
            storage: Storage::File,
            replicas: 1,
            dead_letter: true,
        }
    }
}

/// Why a policy cannot be provisioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "durable policy: {}", self.0)
    }
}

impl std::error::Error for PolicyError {}

impl Policy {
    /// Checks what the broker would refuse, or what makes no sense.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |why: String| Err(PolicyError(why));
        if self.max_deliveries == 0 {
            return bad("max_deliveries must be at least 1".into());
        }
        if self.ack_wait < Duration::from_secs(1) {
            return bad(format!(
                "ack_wait {:?} is below one second (progress acks go every half of it)",
                self.ack_wait
            ));
        }
        if self.handler_timeout.is_zero() {
            return bad("handler_timeout must be above zero".into());
        }
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1".into());
        }
        if !(1..=5).contains(&self.replicas) {
            return bad(format!("replicas {} is not 1 to 5", self.replicas));
        }
        if self.dedup_window.is_zero() {
            return bad("dedup_window must be above zero".into());
        }
        if let Some(age) = self.max_age {
            if age < self.dedup_window {
                return bad(format!(
                    "max_age {age:?} is shorter than dedup_window {:?} (the broker refuses it)",
                    self.dedup_window
                ));
            }
        }
        Ok(())
    }

    /// The delay before redelivering a message whose attempt number
    /// `delivered` (1 for the first) failed.
    pub fn retry_delay(&self, delivered: u64) -> Duration {
        let i = usize::try_from(delivered.saturating_sub(1)).unwrap_or(usize::MAX);
        self.backoff
            .get(i)
            .or(self.backoff.last())
            .copied()
            .unwrap_or_default()
    }

    /// The messages one instance holds unsettled at most: those being
    /// handled and one batch more, fetched while they run (each waiting
    /// one sends progress acks).
    pub fn in_hand(&self) -> usize {
        self.concurrency as usize * 2
    }

    /// The consumer's `max_ack_pending`, a ceiling for the whole group of
    /// instances (each bounds itself by [`in_hand`](Self::in_hand)): room
    /// for [`GROUP_ROOM`] instances at full concurrency.
    pub fn max_ack_pending(&self) -> i64 {
        i64::try_from(self.in_hand() * GROUP_ROOM).unwrap_or(i64::MAX)
    }

    /// Messages to ask for in one pull: as many as can start at once.
    pub fn batch(&self) -> usize {
        self.concurrency as usize
    }

    /// How often a handler in progress tells the broker so.
    pub fn progress_interval(&self) -> Duration {
        self.ack_wait / 2
    }
}

/// Whether a failure with `code` may succeed if tried again. Retried: the
/// service could not take it now (`UNAVAILABLE`, `RESOURCE_EXHAUSTED`,
/// `ABORTED`), it ran out of time (`DEADLINE_EXCEEDED`), or something
/// unexpected happened (`INTERNAL` — panics included — `UNKNOWN`,
/// `CANCELLED`, `DATA_LOSS`). Not retried: the message itself is the
/// problem (`INVALID_ARGUMENT`, `FAILED_PRECONDITION`, `OUT_OF_RANGE`,
/// `NOT_FOUND`, `ALREADY_EXISTS`, `PERMISSION_DENIED`, `UNAUTHENTICATED`,
/// `UNIMPLEMENTED`).
#[cfg(feature = "frames")]
pub fn is_retryable(code: Code) -> bool {
    match code {
        Code::Unavailable
        | Code::ResourceExhausted
        | Code::Aborted
        | Code::DeadlineExceeded
        | Code::Internal
        | Code::Unknown
        | Code::Cancelled
        | Code::DataLoss => true,
        Code::InvalidArgument
        | Code::FailedPrecondition
        | Code::OutOfRange
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::Unauthenticated
        | Code::Unimplemented => false,
    }
}

/// Why a message went to the dead letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It does not decode as the method's request type.
    Decode,
    /// The handler failed with a code that is not retried.
    Rejected,
    /// Its last delivery failed too (retryable failures, timeouts, panics).
    Exhausted,
    /// The broker reached its delivery limit without a last attempt
    /// finishing (a crash or a hang): from the `MAX_DELIVERIES` advisory.
    MaxDeliveries,
}

impl Reason {
    /// The reason as the dead letter's header says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Decode => "decode",
            Reason::Rejected => "rejected",
            Reason::Exhausted => "exhausted",
            Reason::MaxDeliveries => "max_deliveries",
        }
    }

    /// The reason a header names.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Reason::Decode,
            Reason::Rejected,
            Reason::Exhausted,
            Reason::MaxDeliveries,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// What to do with a message after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Handled: ack it.
    Ack,
    /// Failed, may succeed later: NAK it, to come back after the delay.
    Retry(Duration),
    /// Cannot be handled: copy it to the dead letters (and await that),
    /// then terminate it; NAK it if the copy fails.
    DeadLetter(Reason),
}

/// What becomes of a message whose attempt number `delivered` (1 for the
/// first) ended with `outcome`: `Ok` handled, `Err(code)` failed (a timeout
/// is `DEADLINE_EXCEEDED`, a panic `INTERNAL`).
#[cfg(feature = "frames")]
pub fn disposition(outcome: Result<(), Code>, delivered: u64, policy: &Policy) -> Disposition {
    match outcome {
        Ok(()) => Disposition::Ack,
        Err(code) if !is_retryable(code) => Disposition::DeadLetter(Reason::Rejected),
        Err(_) if delivered >= u64::from(policy.max_deliveries) => {
            Disposition::DeadLetter(Reason::Exhausted)
        }
        Err(_) => Disposition::Retry(policy.retry_delay(delivered)),
    }
}

/// How a method of `kind` can be durable: a fire-and-forget method
/// (`NoReply`) as a command, an event (`NoRequest`) as an event; no other
/// kind can.
pub fn durability(kind: MethodKind) -> Option<Durability> {
    match kind {
        MethodKind::NoReply => Some(Durability::Command),
        MethodKind::NoRequest => Some(Durability::Event),
        _ => None,
    }
}

/// The stream of the durable method `method` of `spec` under `policy`
/// (the declared one, or one changed at run time), its package subject
/// being `package_subject` (`None`: the spec's): its name
/// ([`stream_name`]) and shape, capturing the method's subject in every
/// encoding (`<endpoint>` and `<endpoint>.<encoding>`, subject parameters
/// as `*`). `None` if the method cannot be durable.
pub fn method_stream(
    spec: &ServiceSpec,
    method: usize,
    package_subject: Option<&str>,
    policy: &Policy,
) -> Option<(String, StreamShape)> {
    let m = spec.methods.get(method)?;
    let kind = durability(m.kind)?;
    let subject = spec.endpoint_subject(package_subject, method);
    let mut shape = StreamShape::of(kind, &subject, policy);
    shape.subjects.push(format!("{subject}.*"));
    Some((stream_name(&spec.name, &m.name), shape))
}

/// Reads a duration as the declarations write it: a whole number and a
/// unit, `ms`, `s`, `m`, `h` or `d` (`250ms`, `30s`, `7d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!("{text:?} is not a duration: write a whole number and a unit (ms, s, m, h, d), e.g. \"30s\"")
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .filter(|&i| i > 0)
        .ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    n.checked_mul(unit_ms)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

/// A JetStream name made of `parts`: characters a stream or consumer name
/// may not hold (`.`, `*`, `>`, `/`, `\`, whitespace, controls) become
/// `_`, and parts are joined by `_`.
fn name(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// The stream of a durable method of service `service` (its full name,
/// `greeter.v1.Greeter`): `NRPC_<service>_<method>`.
pub fn stream_name(service: &str, method: &str) -> String {
    name(&["NRPC", service, method])
}

/// The consumer of a durable command: one, shared by every instance.
pub const COMMAND_CONSUMER: &str = "nrpc";

/// The consumer of a subscriber group of a durable event.
pub fn event_consumer(group: &str) -> String {
    name(&["nrpc", group])
}

/// The dead-letter stream of a service: `NRPC_DLQ_<service>`.
pub fn dead_letter_stream(service: &str) -> String {
    name(&["NRPC_DLQ", service])
}

/// The subject a dead letter from the service's durable stream `stream` is
/// written to: `_NRPC.dlq.<service>.<stream>`, one per durable stream, all
/// captured by the service's dead-letter stream
/// ([`dead_letter_subjects`]).
pub fn dead_letter_subject(service: &str, stream: &str) -> String {
    format!("_NRPC.dlq.{}.{stream}", name(&[service]))
}

/// The subjects the service's dead-letter stream captures.
pub fn dead_letter_subjects(service: &str) -> String {
    format!("_NRPC.dlq.{}.*", name(&[service]))
}

/// How long the dead-letter stream remembers ids: long enough for the
/// advisory path to meet the handler path's copy of one message.
pub const DEAD_LETTER_WINDOW: Duration = Duration::from_secs(600);

/// The service's dead-letter stream: limits retention on disk, kept until
/// removed, capturing [`dead_letter_subjects`]. The same for every durable
/// method of the service, whatever their policies.
pub fn dead_letter_shape(service: &str, replicas: u8) -> StreamShape {
    StreamShape {
        subjects: vec![dead_letter_subjects(service)],
        retention: Retention::Limits,
        storage: Storage::File,
        replicas,
        max_age: None,
        duplicate_window: DEAD_LETTER_WINDOW,
    }
}

/// The id that makes the handler path and the advisory path write one
/// dead letter for one message at one consumer (the dead-letter stream
/// drops a second copy within its duplicate window), while each subscriber
/// group of an event keeps its own: `<stream>:<consumer>:<sequence>`.
pub fn dead_letter_id(stream: &str, consumer: &str, sequence: u64) -> String {
    format!("{stream}:{consumer}:{sequence}")
}

/// The header a durable command's handler finds its delivery number in
/// (1 for the first), set by the consuming instance (any such header the
/// publisher sent is replaced).
pub const DELIVERED_HEADER: &str = "Nrpc-Delivered";

/// Whether header `name` of a dead letter was added on the way (the dead
/// letter's own, the delivery number, the message id) rather than sent
/// by the original's publisher: a redrive drops those.
pub fn added_header(name: &str) -> bool {
    name.get(..headers::PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(headers::PREFIX))
        || name.eq_ignore_ascii_case(DELIVERED_HEADER)
        || name.eq_ignore_ascii_case("Nats-Msg-Id")
}

/// The message id of a redriven dead letter: fresh (`redrive:<unique>`),
/// since the original's would be dropped as a duplicate.
pub fn redrive_id(unique: &str) -> String {
    format!("redrive:{unique}")
}

/// The subject of the broker's advisory for a message of `stream` that
/// used up its deliveries at `consumer` without being settled.
pub fn max_deliveries_advisory(stream: &str, consumer: &str) -> String {
    format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}")
}

/// The queue group the instances of a consumer hear that advisory in: one
/// of them writes the dead letter.
pub const ADVISORY_QUEUE: &str = "nrpc";

/// What a dead letter says of the message it copies.
#[cfg(feature = "frames")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter<'a> {
    /// Why.
    pub reason: Reason,
    /// The last failure, if there was one.
    pub status: Option<&'a crate::Status>,
    /// The subject the original was published to.
    pub subject: &'a str,
    /// The stream that held it.
    pub stream: &'a str,
    /// Its sequence in that stream.
    pub sequence: u64,
    /// How many times it was delivered.
    pub deliveries: u64,
    /// The consumer that gave up on it.
    pub consumer: &'a str,
    /// When, in Unix milliseconds.
    pub time_ms: u128,
}

#[cfg(feature = "frames")]
impl DeadLetter<'_> {
    /// The headers a dead letter carries beside the original's own (the
    /// message one line, bounded as error messages are).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![(headers::REASON, self.reason.as_str().to_owned())];
        if let Some(status) = self.status {
            out.push((headers::CODE, status.code().as_str().to_owned()));
            out.push((
                headers::MESSAGE,
                crate::headers::message_value(status.message()),
            ));
        }
        out.extend([
            (headers::SUBJECT, self.subject.to_owned()),
            (headers::STREAM, self.stream.to_owned()),
            (headers::SEQUENCE, self.sequence.to_string()),
            (headers::DELIVERIES, self.deliveries.to_string()),
            (headers::CONSUMER, self.consumer.to_owned()),
            (headers::TIME, self.time_ms.to_string()),
        ]);
        out
    }
}

/// Headers of a dead letter, beside the original's own.
pub mod headers {
    /// How each of them begins.
    pub const PREFIX: &str = "Nrpc-Dlq-";
    /// Why: [`Reason::as_str`](super::Reason::as_str).
    pub const REASON: &str = "Nrpc-Dlq-Reason";
    /// The last failure's status code name (`INVALID_ARGUMENT`), if any.
    pub const CODE: &str = "Nrpc-Dlq-Code";
    /// The last failure's message, if any.
    pub const MESSAGE: &str = "Nrpc-Dlq-Message";
    /// The subject the original was published to.
    pub const SUBJECT: &str = "Nrpc-Dlq-Subject";
    /// The stream that held it.
    pub const STREAM: &str = "Nrpc-Dlq-Stream";
    /// Its sequence in that stream.
    pub const SEQUENCE: &str = "Nrpc-Dlq-Sequence";
    /// How many times it was delivered.
    pub const DELIVERIES: &str = "Nrpc-Dlq-Deliveries";
    /// The consumer that gave up on it.
    pub const CONSUMER: &str = "Nrpc-Dlq-Consumer";
    /// When, in Unix milliseconds.
    pub const TIME: &str = "Nrpc-Dlq-Time";
}

/// The settings of a stream that nrpc provisions and compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamShape {
    /// Its subjects.
    pub subjects: Vec<String>,
    /// Work queue (commands) or limits (events, dead letters).
    pub retention: Retention,
    /// Disk or memory.
    pub storage: Storage,
    /// Copies in a cluster.
    pub replicas: u8,
    /// How long messages are kept (`None`: no limit).
    pub max_age: Option<Duration>,
    /// How long message ids are remembered.
    pub duplicate_window: Duration,
}

/// A stream's retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Kept until acked by the consumer (commands).
    WorkQueue,
    /// Kept within limits (age), whatever is acked (events, dead letters).
    Limits,
    /// Kept until every consumer acked it (nrpc does not make these; an
    /// existing stream may have it).
    Interest,
}

impl StreamShape {
    /// The stream a durable method of `kind` on `subject` needs.
    pub fn of(kind: Durability, subject: &str, policy: &Policy) -> Self {
        StreamShape {
            subjects: vec![subject.to_owned()],
            retention: match kind {
                Durability::Command => Retention::WorkQueue,
                Durability::Event => Retention::Limits,
            },
            storage: policy.storage,
            replicas: policy.replicas,
            max_age: policy.max_age,
            duplicate_window: policy.dedup_window,
        }
    }

    /// How an existing stream (`found`) differs from this one, field by
    /// field; empty when it matches.
    pub fn differences(&self, found: &StreamShape) -> Vec<Difference> {
        let mut out = Vec::new();
        let mut check = |field: &'static str, wanted: String, got: String, updatable: bool| {
            if wanted != got {
                out.push(Difference {
                    field,
                    wanted,
                    found: got,
                    updatable,
                });
            }
        };
        let mut subjects = (self.subjects.clone(), found.subjects.clone());
        subjects.0.sort();
        subjects.1.sort();
        check("subjects", subjects.0.join(","), subjects.1.join(","), true);
        check(
            "retention",
            format!("{:?}", self.retention),
            format!("{:?}", found.retention),
            false,
        );
        check(
            "storage",
            format!("{:?}", self.storage),
            format!("{:?}", found.storage),
            false,
        );
        check(
            "num_replicas",
            self.replicas.to_string(),
            found.replicas.to_string(),
            true,
        );
        let age = |a: Option<Duration>| a.map_or("unlimited".to_owned(), |a| format!("{a:?}"));
        check("max_age", age(self.max_age), age(found.max_age), true);
        check(
            "duplicate_window",
            format!("{:?}", self.duplicate_window),
            format!("{:?}", found.duplicate_window),
            true,
        );
        out
    }
}

/// One setting in which an existing stream differs from the declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The stream setting (JetStream's name for it).
    pub field: &'static str,
    /// What the declaration says.
    pub wanted: String,
    /// What the stream has.
    pub found: String,
    /// Whether the broker can change it on an existing stream (only with
    /// an explicit opt-in; never silently).
    pub updatable: bool,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: declared {}, the stream has {}{}",
            self.field,
            self.wanted,
            self.found,
            if self.updatable {
                ""
            } else {
                " (cannot be changed on an existing stream)"
            }
        )
    }
}

#[cfg(all(test, feature = "frames"))]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_valid_and_retries_along_its_curve() {
        let policy = Policy::default();
        assert_eq!(policy.validate(), Ok(()));
        assert_eq!(policy.retry_delay(1), Duration::from_secs(1));
        assert_eq!(policy.retry_delay(2), Duration::from_secs(5));
        assert_eq!(policy.retry_delay(4), Duration::from_secs(120));
        // The last delay repeats.
        assert_eq!(policy.retry_delay(40), Duration::from_secs(120));
        assert_eq!(policy.retry_delay(0), Duration::from_secs(1));
        let none = Policy {
            backoff: Cow::Borrowed(&[]),
            ..Policy::default()
        };
        assert_eq!(none.retry_delay(3), Duration::ZERO);
        assert_eq!(policy.in_hand(), 32);
        assert_eq!(policy.max_ack_pending(), 32 * 32);
        assert_eq!(policy.batch(), 16);
        assert_eq!(policy.progress_interval(), Duration::from_secs(15));
    }

    #[test]
    fn bad_policies_say_which_setting() {
        let bad = |p: Policy, word: &str| {
            let e = p.validate().expect_err(word);
            assert!(e.to_string().contains(word), "{e}");
        };
        let d = Policy::default;
        bad(
            Policy {
                max_deliveries: 0,
                ..d()
            },
            "max_deliveries",
        );
        bad(
            Policy {
                ack_wait: Duration::from_millis(10),
                ..d()
            },
            "ack_wait",
        );
        bad(
            Policy {
                concurrency: 0,
                ..d()
            },
            "concurrency",
        );
        bad(Policy { replicas: 7, ..d() }, "replicas");
        bad(
            Policy {
                max_age: Some(Duration::from_secs(10)),
                ..d()
            },
            "max_age",
        );
        bad(
            Policy {
                handler_timeout: Duration::ZERO,
                ..d()
            },
            "handler_timeout",
        );
    }

    #[test]
    fn outcomes_become_acks_retries_or_dead_letters() {
        let policy = Policy {
            max_deliveries: 3,
            ..Policy::default()
        };
        assert_eq!(disposition(Ok(()), 1, &policy), Disposition::Ack);
        assert_eq!(
            disposition(Err(Code::Unavailable), 1, &policy),
            Disposition::Retry(Duration::from_secs(1))
        );
        assert_eq!(
            disposition(Err(Code::Internal), 2, &policy),
            Disposition::Retry(Duration::from_secs(5))
        );
        // The last attempt: no retry left.
        assert_eq!(
            disposition(Err(Code::DeadlineExceeded), 3, &policy),
            Disposition::DeadLetter(Reason::Exhausted)
        );
        // The message is the problem: at once, whatever attempt.
        assert_eq!(
            disposition(Err(Code::InvalidArgument), 1, &policy),
            Disposition::DeadLetter(Reason::Rejected)
        );
        assert!(is_retryable(Code::ResourceExhausted));
        assert!(!is_retryable(Code::FailedPrecondition));
    }

    proptest::proptest! {
        /// A failure is retried only while deliveries remain, and an ack
        /// or a dead letter ends every message.
        #[test]
        fn never_retried_past_the_last_delivery(
            max in 1u32..20,
            delivered in 1u64..40,
            code in 0usize..16,
            ok in proptest::bool::ANY,
        ) {
            let codes = [
                Code::Cancelled, Code::Unknown, Code::InvalidArgument, Code::DeadlineExceeded,
                Code::NotFound, Code::AlreadyExists, Code::PermissionDenied,
                Code::ResourceExhausted, Code::FailedPrecondition, Code::Aborted,
                Code::OutOfRange, Code::Unimplemented, Code::Internal, Code::Unavailable,
                Code::DataLoss, Code::Unauthenticated,
            ];
            let policy = Policy { max_deliveries: max, ..Policy::default() };
            let outcome = if ok { Ok(()) } else { Err(codes[code]) };
            match disposition(outcome, delivered, &policy) {
                Disposition::Ack => proptest::prop_assert!(ok),
                Disposition::Retry(delay) => {
                    proptest::prop_assert!(delivered < u64::from(max));
                    proptest::prop_assert!(is_retryable(codes[code]));
                    proptest::prop_assert!(delay <= Duration::from_secs(120));
                }
                Disposition::DeadLetter(Reason::Exhausted) => {
                    proptest::prop_assert!(delivered >= u64::from(max));
                }
                Disposition::DeadLetter(reason) => {
                    proptest::prop_assert_eq!(reason, Reason::Rejected);
                    proptest::prop_assert!(!is_retryable(codes[code]));
                }
            }
        }
    }

    #[test]
    fn names_are_valid_jetstream_names() {
        assert_eq!(
            stream_name("greeter.v1.Greeter", "Ring"),
            "NRPC_greeter_v1_Greeter_Ring"
        );
        assert_eq!(event_consumer("audit log*"), "nrpc_audit_log_");
        assert_eq!(dead_letter_stream("shop.Orders"), "NRPC_DLQ_shop_Orders");
        assert_eq!(
            dead_letter_subject("shop.Orders", "NRPC_shop_Orders_Place"),
            "_NRPC.dlq.shop_Orders.NRPC_shop_Orders_Place"
        );
        assert_eq!(
            dead_letter_subjects("shop.Orders"),
            "_NRPC.dlq.shop_Orders.*"
        );
        assert_eq!(dead_letter_id("S", "nrpc", 42), "S:nrpc:42");
        for reason in [
            Reason::Decode,
            Reason::Rejected,
            Reason::Exhausted,
            Reason::MaxDeliveries,
        ] {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(Reason::parse("other"), None);
    }

    #[test]
    fn a_dead_letter_says_why_and_where_from_in_one_line() {
        let status = crate::Status::new(Code::Unavailable, "down\nagain");
        let letter = DeadLetter {
            reason: Reason::Exhausted,
            status: Some(&status),
            subject: "orders.place",
            stream: "S",
            sequence: 7,
            deliveries: 3,
            consumer: "nrpc",
            time_ms: 42,
        };
        let headers = letter.headers();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get(headers::REASON), Some("exhausted"));
        assert_eq!(get(headers::CODE), Some("UNAVAILABLE"));
        assert_eq!(get(headers::MESSAGE), Some("down again"));
        assert_eq!(get(headers::SEQUENCE), Some("7"));
        assert_eq!(get(headers::TIME), Some("42"));
        let long = crate::Status::new(Code::Internal, "x".repeat(5000));
        let bounded = DeadLetter {
            status: Some(&long),
            ..letter.clone()
        };
        let headers = bounded.headers();
        assert!(headers
            .iter()
            .all(|(_, v)| v.len() <= crate::frame::MAX_MESSAGE_LEN));
        let without = DeadLetter {
            status: None,
            ..letter
        };
        assert!(without.headers().iter().all(|(n, _)| *n != headers::CODE));
        assert_eq!(
            max_deliveries_advisory("S", "nrpc"),
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.nrpc"
        );
    }

    #[test]
    fn an_existing_stream_is_compared_field_by_field() {
        let policy = Policy::default();
        let wanted = StreamShape::of(Durability::Command, "orders.place", &policy);
        assert!(wanted.differences(&wanted.clone()).is_empty());
        let found = StreamShape {
            retention: Retention::Limits,
            max_age: Some(Duration::from_secs(3600)),
            ..wanted.clone()
        };
        let differences = wanted.differences(&found);
        let fields: Vec<_> = differences.iter().map(|d| (d.field, d.updatable)).collect();
        assert_eq!(fields, [("retention", false), ("max_age", true)]);
        assert_eq!(
            differences[0].to_string(),
            "retention: declared WorkQueue, the stream has Limits (cannot be changed on an existing stream)"
        );
        let event = StreamShape::of(Durability::Event, "orders.placed", &policy);
        assert_eq!(event.retention, Retention::Limits);
    }

    #[test]
    fn a_redrive_drops_what_was_added_on_the_way_under_a_fresh_id() {
        for added in [
            headers::REASON,
            "nrpc-dlq-code",
            DELIVERED_HEADER,
            "Nats-Msg-Id",
        ] {
            assert!(added_header(added), "{added}");
        }
        for own in ["Nrpc-Request-Id", "traceparent", "X-Tenant", "Nrpc", ""] {
            assert!(!added_header(own), "{own}");
        }
        assert_eq!(redrive_id("abc"), "redrive:abc");
    }

    #[test]
    fn durations_are_a_number_and_a_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in [
            "",
            "30",
            "s",
            "1.5s",
            "30 s",
            "-1s",
            "3w",
            "99999999999999999999d",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("is not a duration"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_methods_stream_captures_its_subject_in_every_encoding() {
        use crate::{MethodSpec, ServiceSpec};
        let method = |name: &'static str, kind, durable| MethodSpec {
            name: name.into(),
            subject: name.into(),
            params: Cow::Borrowed(&[]),
            kind,
            polling: false,
            durable,
        };
        let spec = ServiceSpec {
            name: "shop.v1.Orders".into(),
            description: "".into(),
            package_subject: "shop".into(),
            package_params: Cow::Borrowed(&[]),
            service_subject: "Orders".into(),
            service_params: Cow::Borrowed(&[]),
            methods: vec![
                method("Place", MethodKind::NoReply, Some(Policy::default())),
                method("Get", MethodKind::Unary, None),
            ]
            .into(),
        };
        let policy = Policy::default();
        let (name, shape) = method_stream(&spec, 0, None, &policy).unwrap();
        assert_eq!(name, "NRPC_shop_v1_Orders_Place");
        assert_eq!(shape.subjects, ["shop.Orders.Place", "shop.Orders.Place.*"]);
        assert_eq!(shape.retention, Retention::WorkQueue);
        let (_, moved) = method_stream(&spec, 0, Some("canary.shop"), &policy).unwrap();
        assert_eq!(moved.subjects[0], "canary.shop.Orders.Place");
        assert!(method_stream(&spec, 1, None, &policy).is_none(), "unary");
        assert!(
            method_stream(&spec, 2, None, &policy).is_none(),
            "no such method"
        );
    }
}
