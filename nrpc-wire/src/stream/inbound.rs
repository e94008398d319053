//! The receiving side of one direction of a stream, as one state machine
//! both roles use: the client for the server's replies, the server for a
//! client's request items. Messages go in ([`Inbound::on_message`]), typed
//! signals come out; items are handed over in order ([`Inbound::pop`]) and
//! consuming them raises the credit ([`Inbound::consumed`]). It enforces
//! credit on numbered items, checks item numbers, the sender's progress
//! reports and the end count, and reports silence; time is passed in.
//!
//! A stream ends in one of two ways: [`Signal::End`] after every item
//! arrived in order, or a [`StreamError`]. A lost, duplicated or reordered
//! item is seen at the next numbered item, progress report or end, never
//! skipped; a lost end is seen as silence.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{
    split_batch, split_numbered, CountMismatch, CreditExceeded, DataLoss, Frame, ReceiveWindow,
};
use crate::headers;
use crate::subject::check_literal;
use crate::{Code, Encoding, Status};

/// The headers of a received message, as the stream machines read them
/// (the runtime implements it for its message type).
pub trait Headers {
    /// The first value of header `name`, if any.
    fn get(&self, name: &str) -> Option<&str>;
}

/// A message without headers.
impl Headers for () {
    fn get(&self, _: &str) -> Option<&str> {
        None
    }
}

impl Headers for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

fn count(h: &(impl Headers + ?Sized), name: &str) -> Option<u64> {
    h.get(name).and_then(headers::parse_count)
}

/// What a message on a stream meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Items arrived: take them with [`Inbound::pop`].
    Items,
    /// The peer is alive; it may announce the credit for what we send
    /// the other way.
    Alive {
        /// The peer's cumulative limit for our items, if it said.
        credit_limit: Option<u64>,
    },
    /// The server accepted a request stream: items go to `inbox`, at most
    /// `credit` of them ahead.
    Accepted {
        /// Where the client sends its items (one literal subject).
        inbox: String,
        /// The server's initial credit.
        credit: u64,
        /// Whether the server reads batches of items.
        batches: bool,
    },
    /// The stream is complete: every item arrived, in order (those not
    /// popped yet are still there).
    End,
    /// A message after the stream ended; nothing to do.
    Late,
}

/// How a stream failed.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamError {
    /// The peer ended the stream with an error.
    Status(Status),
    /// Items were lost on the way (or arrived twice or out of order).
    DataLoss(DataLoss),
    /// The peer sent beyond the credit it was given.
    CreditExceeded(CreditExceeded),
    /// The peer's end counted other items than arrived.
    CountMismatch(CountMismatch),
    /// A message that is no valid stream frame.
    Malformed(String),
    /// Nothing came from the peer for this long.
    Silent(Duration),
}

impl StreamError {
    /// Whether the peer itself ended the stream (it needs no cancelling).
    pub fn ended_by_peer(&self) -> bool {
        matches!(self, StreamError::Status(_))
    }

    /// The status a handler or caller sees for it: the peer's own status,
    /// or the code of what went wrong (`DATA_LOSS`, `RESOURCE_EXHAUSTED`,
    /// `INVALID_ARGUMENT`, `DEADLINE_EXCEEDED`).
    pub fn to_status(&self) -> Status {
        let code = match self {
            StreamError::Status(s) => return s.clone(),
            StreamError::DataLoss(_) => Code::DataLoss,
            StreamError::CreditExceeded(_) => Code::ResourceExhausted,
            StreamError::CountMismatch(m) if m.received < u64::from(m.sent) => Code::DataLoss,
            StreamError::CountMismatch(_) | StreamError::Malformed(_) => Code::InvalidArgument,
            StreamError::Silent(_) => Code::DeadlineExceeded,
        };
        Status::new(code, format!("stream ended: {self}"))
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Status(s) => write!(f, "{s}"),
            StreamError::DataLoss(e) => write!(f, "{e}"),
            StreamError::CreditExceeded(e) => write!(f, "the peer {e}"),
            StreamError::CountMismatch(e) => write!(f, "{e}"),
            StreamError::Malformed(e) => write!(f, "the peer sent {e}"),
            StreamError::Silent(d) => write!(f, "nothing from the peer for {d:?}"),
        }
    }
}

impl std::error::Error for StreamError {}

/// When the other side last showed it is alive, and when it counts as
/// gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    last: Instant,
    timeout: Duration,
}

impl Liveness {
    /// Heard from at `now`; gone after `timeout` of silence.
    pub fn new(now: Instant, timeout: Duration) -> Self {
        Self { last: now, timeout }
    }

    /// The peer showed it is alive at `now`.
    pub fn heard(&mut self, now: Instant) {
        self.last = self.last.max(now);
    }

    /// When the peer counts as gone unless heard from before.
    pub fn deadline(&self) -> Instant {
        self.last + self.timeout
    }

    /// Fails once the peer has been silent for the timeout.
    pub fn check(&self, now: Instant) -> Result<(), StreamError> {
        if now >= self.deadline() {
            return Err(StreamError::Silent(self.timeout));
        }
        Ok(())
    }
}

/// Which side of a call receives the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The client, receiving replies. A server that numbers its items
    /// speaks the extension and is held to credit; one that does not (a Go
    /// nRPC server, which knows no credit) is only counted.
    Client,
    /// The server, receiving request items: only nrpc clients stream
    /// requests, so every item is held to credit.
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Ended,
    Failed,
}

/// One direction of a stream as its receiver sees it.
#[derive(Debug)]
pub struct Inbound {
    role: Role,
    encoding: Encoding,
    window: ReceiveWindow,
    /// Items arrived in order and not popped yet.
    items: VecDeque<Bytes>,
    state: State,
    liveness: Liveness,
}

impl Inbound {
    /// A receiver (`role`) that lets the sender be `window` items ahead and
    /// counts it gone after `inactivity` without a message.
    pub fn new(
        role: Role,
        encoding: Encoding,
        window: u32,
        inactivity: Duration,
        now: Instant,
    ) -> Self {
        Self {
            role,
            encoding,
            window: ReceiveWindow::new(window),
            items: VecDeque::new(),
            state: State::Open,
            liveness: Liveness::new(now, inactivity),
        }
    }

    /// The initial credit to announce.
    pub fn window(&self) -> u32 {
        self.window.window()
    }

    /// The cumulative credit granted so far, to re-announce periodically.
    pub fn limit(&self) -> u64 {
        self.window.limit()
    }

    /// When the sender counts as gone unless a message comes first.
    pub fn idle_deadline(&self) -> Instant {
        self.liveness.deadline()
    }

    /// Whether the stream has ended or failed.
    pub fn is_over(&self) -> bool {
        self.state != State::Open
    }

    /// Fails (for good) once the sender has been silent too long.
    pub fn check_idle(&mut self, now: Instant) -> Result<(), StreamError> {
        if self.state != State::Open {
            return Ok(());
        }
        self.liveness.check(now).inspect_err(|_| {
            self.state = State::Failed;
        })
    }

    /// Takes one message received at `now`. An error ends the stream: later
    /// messages are [`Signal::Late`].
    pub fn on_message(
        &mut self,
        payload: Bytes,
        headers: &(impl Headers + ?Sized),
        now: Instant,
    ) -> Result<Signal, StreamError> {
        if self.state != State::Open {
            return Ok(Signal::Late);
        }
        self.liveness.heard(now);
        let result = self.decode(payload, headers);
        match &result {
            Err(_) => self.state = State::Failed,
            Ok(Signal::End) => self.state = State::Ended,
            Ok(_) => {}
        }
        result
    }

    fn decode(
        &mut self,
        payload: Bytes,
        h: &(impl Headers + ?Sized),
    ) -> Result<Signal, StreamError> {
        let code = h.get(headers::CODE).and_then(headers::parse_code);
        let frame = Frame::classify(self.encoding, &payload, code.is_some())
            .map_err(|e| StreamError::Malformed(e.to_string()))?;
        match frame {
            Frame::Keepalive => {
                // Items sent before this keepalive must all be here (nrpc
                // senders say how many; Go's do not).
                if let Some(sent) = count(h, headers::SENT) {
                    self.window
                        .on_progress(sent)
                        .map_err(StreamError::DataLoss)?;
                }
                let credit_limit = count(h, headers::CREDIT_LIMIT);
                let Some(inbox) = h.get(headers::STREAM_INBOX) else {
                    return Ok(Signal::Alive { credit_limit });
                };
                // Items go where the server says: only to one plain subject.
                if check_literal(inbox, false).is_err() {
                    return Err(StreamError::Malformed(format!(
                        "an invalid stream inbox {inbox:?}"
                    )));
                }
                let credit = credit_limit.ok_or_else(|| {
                    StreamError::Malformed("a stream inbox without credit".into())
                })?;
                Ok(Signal::Accepted {
                    inbox: inbox.to_owned(),
                    credit,
                    batches: h.get(headers::STREAM_BATCH).is_some(),
                })
            }
            Frame::End { count } => {
                self.window
                    .on_end(count)
                    .map_err(StreamError::CountMismatch)?;
                Ok(Signal::End)
            }
            Frame::Error(frame) => Err(StreamError::Status(frame.into_status(code))),
            Frame::Item => {
                let malformed = |e: crate::frame::FrameError| StreamError::Malformed(e.to_string());
                let (first, items) = match split_batch(payload.clone()).map_err(malformed)? {
                    Some((first, items)) => (Some(first), items),
                    None => {
                        let (seq, item) = split_numbered(payload).map_err(malformed)?;
                        (seq, vec![item])
                    }
                };
                for (offset, item) in (0u64..).zip(items) {
                    let within = self.window.on_arrival();
                    if first.is_some() || self.role == Role::Server {
                        within.map_err(StreamError::CreditExceeded)?;
                    }
                    if let Some(first) = first {
                        let seq = first.checked_add(offset).ok_or_else(|| {
                            StreamError::Malformed("an item number past the last".into())
                        })?;
                        self.window
                            .on_sequence(seq)
                            .map_err(StreamError::DataLoss)?;
                    }
                    self.items.push_back(item);
                }
                Ok(Signal::Items)
            }
        }
    }

    /// The next item, in order.
    pub fn pop(&mut self) -> Option<Bytes> {
        self.items.pop_front()
    }

    /// A popped item was handed to the reader. Returns the new cumulative
    /// limit to announce now, if any (after half a window).
    pub fn consumed(&mut self) -> Option<u64> {
        self.window.on_item()
    }
}

/// What one heartbeat (client → server, on `<reply>.heartbeat`) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// The client cancels the stream (nRPC's `lastbeat`).
    pub lastbeat: bool,
    /// The client's cumulative credit for the server's items, if it said.
    pub credit_limit: Option<u64>,
}

impl Heartbeat {
    /// Reads a heartbeat (an undecodable payload counts as a plain one).
    pub fn read(encoding: Encoding, payload: &[u8], h: &(impl Headers + ?Sized)) -> Self {
        Self {
            lastbeat: super::is_lastbeat(encoding, payload),
            credit_limit: count(h, headers::CREDIT_LIMIT),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{encode_batch, number_item, OutFrame};
    use super::*;

    const ENC: Encoding = Encoding::Protobuf;
    const QUIET: Duration = Duration::from_secs(5);

    /// One message as the sender publishes it.
    #[derive(Debug, Clone)]
    struct Msg {
        headers: Vec<(&'static str, String)>,
        payload: Bytes,
    }

    impl From<OutFrame> for Msg {
        fn from(f: OutFrame) -> Self {
            Msg {
                headers: f.headers,
                payload: f.payload,
            }
        }
    }

    fn item(seq: u64) -> Msg {
        Msg {
            headers: Vec::new(),
            payload: number_item(seq, &seq.to_be_bytes()),
        }
    }

    fn feed(rx: &mut Inbound, msg: &Msg, now: Instant) -> Result<Signal, StreamError> {
        let h: Vec<(&str, &str)> = msg.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        rx.on_message(msg.payload.clone(), &h[..], now)
    }

    fn popped(rx: &mut Inbound) -> Vec<u64> {
        std::iter::from_fn(|| rx.pop())
            .map(|b| u64::from_be_bytes(b[..].try_into().expect("8 bytes")))
            .collect()
    }

    #[test]
    fn items_then_end_complete_the_stream() {
        let now = Instant::now();
        let mut rx = Inbound::new(Role::Client, ENC, 16, QUIET, now);
        for seq in 1..=3 {
            assert_eq!(feed(&mut rx, &item(seq), now), Ok(Signal::Items));
        }
        let batch = Msg {
            headers: Vec::new(),
            payload: encode_batch(4, &[Bytes::from(4u64.to_be_bytes().to_vec())]),
        };
        assert_eq!(feed(&mut rx, &batch, now), Ok(Signal::Items));
        let alive = OutFrame::keepalive(Some(4), None).into();
        assert_eq!(
            feed(&mut rx, &alive, now),
            Ok(Signal::Alive { credit_limit: None })
        );
        assert_eq!(
            feed(&mut rx, &OutFrame::end(ENC, 4).into(), now),
            Ok(Signal::End)
        );
        assert_eq!(popped(&mut rx), [1, 2, 3, 4]);
        assert!(rx.is_over());
        assert_eq!(feed(&mut rx, &item(5), now), Ok(Signal::Late));
    }

    #[test]
    fn a_gap_a_lie_or_silence_is_an_error() {
        let now = Instant::now();
        let mut rx = Inbound::new(Role::Client, ENC, 16, QUIET, now);
        feed(&mut rx, &item(1), now).unwrap();
        let lost = feed(&mut rx, &item(3), now).unwrap_err();
        assert_eq!(lost.to_status().code(), Code::DataLoss);
        // Progress reports more than arrived.
        let mut rx = Inbound::new(Role::Client, ENC, 16, QUIET, now);
        feed(&mut rx, &item(1), now).unwrap();
        let report = OutFrame::keepalive(Some(2), None).into();
        assert!(matches!(
            feed(&mut rx, &report, now),
            Err(StreamError::DataLoss(_))
        ));
        // An end counting other items.
        let mut rx = Inbound::new(Role::Client, ENC, 16, QUIET, now);
        feed(&mut rx, &item(1), now).unwrap();
        let end = feed(&mut rx, &OutFrame::end(ENC, 2).into(), now).unwrap_err();
        assert_eq!(end.to_status().code(), Code::DataLoss);
        // Silence.
        let mut rx = Inbound::new(Role::Client, ENC, 16, QUIET, now);
        assert_eq!(rx.check_idle(now + QUIET / 2), Ok(()));
        feed(
            &mut rx,
            &OutFrame::keepalive(None, None).into(),
            now + QUIET / 2,
        )
        .unwrap();
        assert_eq!(rx.check_idle(now + QUIET), Ok(()), "the keepalive counted");
        assert_eq!(
            rx.check_idle(now + QUIET / 2 + QUIET),
            Err(StreamError::Silent(QUIET))
        );
    }

    #[test]
    fn numbered_items_beyond_credit_are_refused_plain_ones_counted() {
        let now = Instant::now();
        let mut rx = Inbound::new(Role::Client, ENC, 2, QUIET, now);
        feed(&mut rx, &item(1), now).unwrap();
        feed(&mut rx, &item(2), now).unwrap();
        let over = feed(&mut rx, &item(3), now).unwrap_err();
        assert_eq!(over.to_status().code(), Code::ResourceExhausted);
        // A Go server numbers nothing and knows no credit; a client
        // streaming requests is held to it either way.
        let mut server = Inbound::new(Role::Server, ENC, 2, QUIET, now);
        let mut rx = Inbound::new(Role::Client, ENC, 2, QUIET, now);
        let plain = Msg {
            headers: Vec::new(),
            payload: Bytes::from_static(b"\x0a\x01x"),
        };
        for _ in 0..5 {
            assert_eq!(feed(&mut rx, &plain, now), Ok(Signal::Items));
        }
        feed(&mut server, &plain, now).unwrap();
        feed(&mut server, &plain, now).unwrap();
        assert!(matches!(
            feed(&mut server, &plain, now),
            Err(StreamError::CreditExceeded(_))
        ));
        assert_eq!(
            feed(&mut rx, &OutFrame::end(ENC, 5).into(), now),
            Ok(Signal::End)
        );
    }

    #[test]
    fn accepts_errors_and_heartbeats_are_read() {
        let now = Instant::now();
        let mut rx = Inbound::new(Role::Client, ENC, 16, QUIET, now);
        assert_eq!(
            feed(&mut rx, &OutFrame::accept("_INBOX.x.1", 64).into(), now),
            Ok(Signal::Accepted {
                inbox: "_INBOX.x.1".into(),
                credit: 64,
                batches: true
            })
        );
        let wildcard = OutFrame::accept("_INBOX.>", 64).into();
        assert!(matches!(
            feed(&mut rx, &wildcard, now),
            Err(StreamError::Malformed(_))
        ));
        // An error frame keeps its exact code, even one encoding to a lone 0x00.
        let mut rx = Inbound::new(Role::Client, ENC, 16, QUIET, now);
        let status = Status::invalid_argument("");
        let err = feed(&mut rx, &OutFrame::error(ENC, &status).into(), now).unwrap_err();
        assert!(err.ended_by_peer());
        assert_eq!(err.to_status().code(), Code::InvalidArgument);
        let beat = OutFrame::heartbeat(ENC, 40);
        let h: Vec<(&str, &str)> = beat.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(
            Heartbeat::read(ENC, &beat.payload, &h[..]),
            Heartbeat {
                lastbeat: false,
                credit_limit: Some(40)
            }
        );
        assert!(Heartbeat::read(ENC, &OutFrame::lastbeat(ENC).payload, &()).lastbeat);
    }

    #[test]
    fn grants_follow_consumption() {
        let now = Instant::now();
        let mut rx = Inbound::new(Role::Client, ENC, 4, QUIET, now);
        let mut grants = Vec::new();
        for seq in 1..=4 {
            feed(&mut rx, &item(seq), now).unwrap();
            rx.pop().unwrap();
            grants.push(rx.consumed());
        }
        assert_eq!(grants, [None, Some(6), None, Some(8)]);
        assert_eq!(rx.limit(), 8);
    }

    /// What the network may do to one message.
    #[derive(Debug, Clone, Copy)]
    enum Fate {
        Deliver,
        Lose,
        Duplicate,
        /// Delivered after the next one.
        Delay,
    }

    fn fate() -> impl Strategy<Value = Fate> {
        prop_oneof![
            6 => Just(Fate::Deliver),
            1 => Just(Fate::Lose),
            1 => Just(Fate::Duplicate),
            1 => Just(Fate::Delay),
        ]
    }

    /// A sender's messages: `n` items in batches of the given sizes, a
    /// progress keepalive after each batch, then the end.
    fn sent(n: u64, batch_sizes: &[u64]) -> Vec<Msg> {
        let mut out = Vec::new();
        let mut seq = 1;
        let mut sizes = batch_sizes.iter().copied().cycle();
        while seq <= n {
            let size = sizes.next().unwrap_or(1).clamp(1, n - seq + 1);
            out.push(match size {
                1 => item(seq),
                _ => Msg {
                    headers: Vec::new(),
                    payload: encode_batch(
                        seq,
                        &(seq..seq + size)
                            .map(|s| Bytes::from(s.to_be_bytes().to_vec()))
                            .collect::<Vec<_>>(),
                    ),
                },
            });
            seq += size;
            out.push(OutFrame::keepalive(Some(seq - 1), None).into());
        }
        out.push(OutFrame::end(ENC, n).into());
        out
    }

    proptest! {
        /// Whatever the network loses, duplicates or reorders, the
        /// receiver ends with every item in order, or with an error after
        /// items in order — never a silent gap, and never without an end:
        /// silence after the last message is an error too.
        #[test]
        fn any_loss_duplication_or_reordering_ends_complete_or_in_an_error(
            n in 0u64..40,
            batch_sizes in proptest::collection::vec(1u64..5, 1..4),
            fates in proptest::collection::vec(fate(), 0..100),
        ) {
            let messages = sent(n, &batch_sizes);
            let mut delivered = Vec::new();
            let mut delayed: Option<Msg> = None;
            for (i, msg) in messages.iter().enumerate() {
                match fates.get(i).copied().unwrap_or(Fate::Deliver) {
                    Fate::Deliver => delivered.push(msg.clone()),
                    Fate::Lose => {}
                    Fate::Duplicate => {
                        delivered.push(msg.clone());
                        delivered.push(msg.clone());
                    }
                    Fate::Delay => {
                        if let Some(d) = delayed.replace(msg.clone()) {
                            delivered.push(d);
                        }
                        continue;
                    }
                }
                delivered.extend(delayed.take());
            }
            delivered.extend(delayed.take());
            let start = Instant::now();
            let mut rx = Inbound::new(Role::Client, ENC, 64, QUIET, start);
            let mut items = Vec::new();
            let mut outcome = None;
            for msg in &delivered {
                let result = feed(&mut rx, msg, start);
                items.extend(popped(&mut rx));
                match result {
                    Ok(Signal::End) => outcome = Some(Ok(())),
                    Err(e) => outcome = Some(Err(e)),
                    Ok(_) => continue,
                }
                break;
            }
            let outcome = match outcome {
                Some(o) => o,
                // No end arrived: the silence that follows ends the stream.
                None => rx.check_idle(start + QUIET),
            };
            // Items always arrive in order, without gaps or repeats.
            let prefix: Vec<u64> = (1..=items.len() as u64).collect();
            prop_assert_eq!(&items, &prefix);
            match outcome {
                Ok(()) => prop_assert_eq!(items.len() as u64, n, "complete"),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }
}
