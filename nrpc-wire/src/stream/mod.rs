//! Streams: nRPC's streamed-reply protocol plus nrpc's credit extension,
//! as plain state machines. The runtime moves the bytes and wakes tasks;
//! every decision (is this a keepalive, an item or the end; may I send;
//! when to grant; is the stream complete) is made here.
//!
//! nRPC: the client publishes the request with reply subject `R` and sends
//! a heartbeat (`HeartBeat{}`) to `R.heartbeat` every second; the server
//! sends a one-byte `0x00` keepalive to `R` every second, each item as a
//! plain message, and ends with `0x00 + Error{EOS, msgCount}` or another
//! error; `HeartBeat{lastbeat: true}` cancels.
//!
//! nrpc extension (ignored by Go peers), built for an at-most-once broker
//! where any message can be lost around a reconnect: a request header
//! `Nrpc-Stream-Credit: W` asks the server to send at most `W` items ahead
//! of the client. Credit is cumulative and idempotent — the receiver says
//! "you may have sent N items in all" (`Nrpc-Credit-Limit: N`) when it has
//! consumed half a window and again with every heartbeat, so a lost grant
//! is repaired within a second. Each item carries its number (a
//! [`NUMBERED`] prefix), so a gap is seen at the first item after it; and the
//! sender says how many items it has sent
//! (`Nrpc-Sent: n`) with every keepalive, on the items' own subject, so a
//! receiver that has fewer knows at once that items were lost. For
//! client-streaming and bidirectional methods the server first answers
//! with a keepalive carrying `Nrpc-Stream-Inbox: S` and
//! `Nrpc-Credit-Limit: C`; the client sends its items to `S` (ending with
//! `EOS`), with keepalives carrying `Nrpc-Sent`. Both directions use the
//! same two machines: a [`SendWindow`] on the sending side and a
//! [`ReceiveWindow`] on the receiving side.

mod inbound;
mod outbound;

pub use inbound::{Headers, Heartbeat, Inbound, Liveness, Role, Signal, StreamError};
pub use outbound::{Framing, Opening, OutFrame};

use std::fmt;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use prost::Message as _;

use crate::frame::FrameError;
use crate::proto::HeartBeat;
#[cfg(test)]
use crate::Status;
use crate::{Encoding, ErrorFrame, ErrorType};

/// How often each side shows it is alive.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Silence after which the other side counts as gone.
pub const INACTIVITY_TIMEOUT: Duration = Duration::from_secs(5);
/// The shortest inactivity timeout a stream gets: two keepalive intervals.
/// A shorter one would end healthy streams between keepalives, so a
/// caller's shorter timeout is raised to it.
pub const MIN_INACTIVITY: Duration = Duration::from_secs(2);

/// The inactivity timeout of a stream whose caller asked for `timeout`.
pub fn inactivity(timeout: Duration) -> Duration {
    timeout.max(MIN_INACTIVITY)
}
/// Items a receiver lets a sender send ahead unless told otherwise.
pub const DEFAULT_WINDOW: u32 = 1024;
/// The server's keepalive payload (also the accept of a request stream).
pub const KEEPALIVE: &[u8] = &[0];

/// First byte of a numbered item. No protobuf message starts with it
/// (field 0 with wire type 6 does not exist) and no JSON text does, so a
/// numbered item is never taken for a plain one, or for an error frame
/// (`0x00`).
pub const NUMBERED: u8 = 0x06;

/// An item numbered for loss detection: [`NUMBERED`], the item's number
/// (1, 2, …) as a protobuf varint, then the encoded message. Sent only to
/// peers that speak the extension.
pub fn number_item(seq: u64, payload: &[u8]) -> Bytes {
    let mut out = bytes::BytesMut::with_capacity(1 + 10 + payload.len());
    out.put_u8(NUMBERED);
    prost::encoding::encode_varint(seq, &mut out);
    out.put_slice(payload);
    out.freeze()
}

/// The number and message of a numbered item; `None` for a plain item (a
/// peer that does not number, e.g. a Go nRPC server).
pub fn split_numbered(mut payload: Bytes) -> Result<(Option<u64>, Bytes), FrameError> {
    if payload.first() != Some(&NUMBERED) {
        return Ok((None, payload));
    }
    payload.advance(1);
    let seq = prost::encoding::decode_varint(&mut payload)
        .map_err(|e| FrameError(format!("bad item number: {e}")))?;
    Ok((Some(seq), payload))
}

/// First byte of a batch: several numbered items in one message, for
/// clients that ask for them ([`headers::STREAM_BATCH`](crate::headers::STREAM_BATCH)).
/// [`BATCH`], the first item's number as a varint, then each item as its
/// length (varint) and its encoded message. Like [`NUMBERED`], no protobuf
/// message or JSON text starts with it.
pub const BATCH: u8 = 0x07;

/// The most a batch carries; the sender also keeps it within the
/// connection's `max_payload`.
pub const MAX_BATCH_BYTES: usize = 64 * 1024;

/// Encodes `items` (encoded messages) as a batch whose first item is number
/// `first`.
pub fn encode_batch(first: u64, items: &[Bytes]) -> Bytes {
    let len: usize = items.iter().map(|i| i.len() + 5).sum();
    let mut out = bytes::BytesMut::with_capacity(1 + 10 + len);
    out.put_u8(BATCH);
    prost::encoding::encode_varint(first, &mut out);
    for item in items {
        prost::encoding::encode_varint(item.len() as u64, &mut out);
        out.put_slice(item);
    }
    out.freeze()
}

/// What [`encode_batch`] adds to each item of `len` bytes, at most.
pub fn batch_overhead(len: usize) -> usize {
    prost::encoding::encoded_len_varint(len as u64)
}

/// The first item's number and the items of a batch; `None` when
/// `payload` is not one. Each item shares `payload`'s memory.
pub fn split_batch(mut payload: Bytes) -> Result<Option<(u64, Vec<Bytes>)>, FrameError> {
    if payload.first() != Some(&BATCH) {
        return Ok(None);
    }
    payload.advance(1);
    let bad = |e: prost::DecodeError| FrameError(format!("bad batch: {e}"));
    let first = prost::encoding::decode_varint(&mut payload).map_err(bad)?;
    let mut items = Vec::new();
    while payload.has_remaining() {
        let len = prost::encoding::decode_varint(&mut payload).map_err(bad)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= payload.len())
            .ok_or_else(|| FrameError(format!("bad batch: item of {len} bytes past its end")))?;
        items.push(payload.split_to(len));
    }
    if items.is_empty() {
        return Err(FrameError("bad batch: no items".into()));
    }
    Ok(Some((first, items)))
}

/// The heartbeat subject of a stream whose reply subject is `reply`.
pub fn heartbeat_subject(reply: &str) -> String {
    format!("{reply}.heartbeat")
}

/// A heartbeat payload.
pub fn encode_heartbeat(encoding: Encoding, lastbeat: bool) -> Bytes {
    match (encoding, lastbeat) {
        (Encoding::Protobuf, false) => Bytes::new(),
        (Encoding::Protobuf, true) => Bytes::from(HeartBeat { lastbeat: true }.encode_to_vec()),
        (Encoding::Json, false) => Bytes::from_static(b"{}"),
        (Encoding::Json, true) => Bytes::from_static(br#"{"lastbeat":true}"#),
    }
}

/// Whether a heartbeat payload says `lastbeat` (undecodable counts as not).
pub fn is_lastbeat(encoding: Encoding, payload: &[u8]) -> bool {
    match encoding {
        Encoding::Protobuf => HeartBeat::decode(payload).is_ok_and(|h| h.lastbeat),
        Encoding::Json => serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v.get("lastbeat").and_then(serde_json::Value::as_bool))
            .unwrap_or(false),
    }
}

/// What one message on a stream is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A keepalive (`0x00`): the peer is alive; may carry credit.
    Keepalive,
    /// An item: decode the payload as the stream's message type.
    Item,
    /// The end of the stream, with the number of items the peer sent.
    End {
        /// Items the peer says it sent.
        count: u32,
    },
    /// The peer ended the stream with an error.
    Error(ErrorFrame),
}

impl Frame {
    /// Classifies a payload received on a stream. `coded` says whether the
    /// message carries the `Nrpc-Code` header: nrpc puts it on every error
    /// reply, and it is what tells an error whose frame encodes to a lone
    /// `0x00` (a CLIENT error without a message) from a keepalive. A
    /// payload that claims to be an error frame but does not decode is an
    /// error of its own.
    pub fn classify(encoding: Encoding, payload: &[u8], coded: bool) -> Result<Frame, FrameError> {
        if payload == KEEPALIVE && !coded {
            return Ok(Frame::Keepalive);
        }
        Ok(match ErrorFrame::decode(encoding, payload)? {
            None => Frame::Item,
            Some(f) if f.kind == ErrorType::Eos => Frame::End { count: f.msg_count },
            Some(f) => Frame::Error(f),
        })
    }
}

/// The sending side of one direction of a stream: how many items the
/// receiver still lets us send, and how many we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendWindow {
    /// Items that took credit (being sent or sent).
    reserved: u64,
    /// Items handed to the connection: what keepalives and `EOS` count.
    sent: u64,
    /// Items we may have sent in all (`None`: the receiver uses no flow
    /// control, e.g. a Go nRPC client).
    limit: Option<u64>,
}

impl SendWindow {
    /// A window with the receiver's initial credit; `None` when the
    /// receiver grants none (it does not speak the extension), so sending
    /// never waits.
    pub fn new(initial_credit: Option<u64>) -> Self {
        Self {
            reserved: 0,
            sent: 0,
            limit: initial_credit,
        }
    }

    /// The receiver announced its cumulative limit. Limits only grow: an
    /// old announcement arriving late changes nothing.
    pub fn set_limit(&mut self, limit: u64) {
        if let Some(current) = &mut self.limit {
            *current = (*current).max(limit);
        }
    }

    /// Takes credit for one item; `false` if there is none (wait for a
    /// grant, then try again). Call [`on_sent`](Self::on_sent) once the
    /// item is handed to the connection.
    pub fn try_send(&mut self) -> bool {
        if self.limit.is_some_and(|limit| self.reserved >= limit) {
            return false;
        }
        self.reserved += 1;
        true
    }

    /// An item that took credit was handed to the connection: it now
    /// counts as sent. A keepalive saying how many were sent must count
    /// only these, or it could overtake an item and report a loss that is
    /// not one.
    pub fn on_sent(&mut self) {
        self.sent += 1;
    }

    /// Items we may still send; `None` without flow control.
    pub fn available(&self) -> Option<u64> {
        self.limit.map(|limit| limit.saturating_sub(self.reserved))
    }

    /// Items that took credit: those the sender accepted, sent or not yet.
    pub fn reserved(&self) -> u64 {
        self.reserved
    }

    /// Items sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

/// The receiving side of one direction of a stream: counts items, decides
/// when to grant more credit, and checks the end against the count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveWindow {
    window: u32,
    /// Items that arrived (consumed or not).
    arrived: u64,
    /// Items the sender may have sent in all: the window plus every grant.
    granted: u64,
    received: u64,
    since_grant: u32,
}

impl ReceiveWindow {
    /// A receiver that lets the sender be `window` items ahead.
    pub fn new(window: u32) -> Self {
        let window = window.max(1);
        Self {
            window,
            arrived: 0,
            granted: u64::from(window),
            received: 0,
            since_grant: 0,
        }
    }

    /// One item arrived (before it is consumed). Fails if the sender went
    /// beyond the credit it was given: a receiver that enforces credit
    /// never buffers more than one window.
    pub fn on_arrival(&mut self) -> Result<(), CreditExceeded> {
        self.arrived += 1;
        if self.arrived > self.granted {
            return Err(CreditExceeded {
                granted: self.granted,
            });
        }
        Ok(())
    }

    /// The initial credit to announce.
    pub fn window(&self) -> u32 {
        self.window
    }

    /// The cumulative limit granted so far, to re-announce with every
    /// heartbeat.
    pub fn limit(&self) -> u64 {
        self.granted
    }

    /// One item was consumed. Returns the new cumulative limit to announce
    /// now, if any: after half a window, so the sender never has more than
    /// one window in flight.
    pub fn on_item(&mut self) -> Option<u64> {
        self.received += 1;
        self.since_grant += 1;
        if self.since_grant >= self.window / 2 {
            self.granted += u64::from(std::mem::take(&mut self.since_grant));
            return Some(self.granted);
        }
        None
    }

    /// The item that just arrived says it is number `seq` of the stream
    /// (call after [`on_arrival`](Self::on_arrival)): anything but the next
    /// number means items were lost (or the sender misnumbers).
    pub fn on_sequence(&self, seq: u64) -> Result<(), DataLoss> {
        if seq != self.arrived {
            return Err(DataLoss {
                arrived: self.arrived.saturating_sub(1),
                sent: seq.saturating_sub(1),
            });
        }
        Ok(())
    }

    /// The sender says it has sent `sent` items in all (a keepalive on the
    /// items' subject, so every item it counts was published before it):
    /// fewer arrived means items were lost.
    pub fn on_progress(&self, sent: u64) -> Result<(), DataLoss> {
        if sent > self.arrived {
            return Err(DataLoss {
                arrived: self.arrived,
                sent,
            });
        }
        Ok(())
    }

    /// Items received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The sender ended the stream saying it sent `count` items: fine if
    /// exactly those arrived (the end comes after them on the same
    /// subject).
    pub fn on_end(&self, count: u32) -> Result<(), CountMismatch> {
        if self.arrived == u64::from(count) {
            Ok(())
        } else {
            Err(CountMismatch {
                received: self.arrived,
                sent: count,
            })
        }
    }
}

/// Items were lost on the way: the sender had sent more than arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataLoss {
    /// Items that arrived.
    pub arrived: u64,
    /// Items the sender says it sent.
    pub sent: u64,
}

impl fmt::Display for DataLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stream items were lost: {} sent, {} arrived",
            self.sent, self.arrived
        )
    }
}

impl std::error::Error for DataLoss {}

/// A sender sent more items than the receiver's credit allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditExceeded {
    /// Items the sender was allowed in all.
    pub granted: u64,
}

impl fmt::Display for CreditExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent more than the {} items its credit allowed",
            self.granted
        )
    }
}

impl std::error::Error for CreditExceeded {}

/// A stream ended with a different number of items than were received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountMismatch {
    /// Items received.
    pub received: u64,
    /// Items the sender says it sent.
    pub sent: u32,
}

impl fmt::Display for CountMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stream ended after {} items but the sender sent {}",
            self.received, self.sent
        )
    }
}

impl std::error::Error for CountMismatch {}

#[cfg(test)]
mod tests {
    #[test]
    fn batches_round_trip_and_bad_ones_are_refused() {
        let items = [
            Bytes::from_static(b"a"),
            Bytes::new(),
            Bytes::from(vec![7; 300]),
        ];
        let batch = encode_batch(41, &items);
        assert_eq!(batch[0], BATCH);
        assert_eq!(
            split_batch(batch.clone()).unwrap(),
            Some((41, items.to_vec()))
        );
        // Not a batch: a numbered item, a plain one.
        assert_eq!(split_batch(number_item(1, b"x")).unwrap(), None);
        assert_eq!(split_batch(Bytes::from_static(b"\x0a\x01x")).unwrap(), None);
        // Cut short, or empty.
        assert!(split_batch(batch.slice(..batch.len() - 1)).is_err());
        assert!(split_batch(Bytes::from_static(&[BATCH, 1])).is_err());
        assert!(split_batch(Bytes::from_static(&[BATCH])).is_err());
    }

    use super::*;

    #[test]
    fn heartbeats_match_nrpc_bytes() {
        assert!(encode_heartbeat(Encoding::Protobuf, false).is_empty());
        assert_eq!(
            &encode_heartbeat(Encoding::Protobuf, true)[..],
            &[0x08, 0x01]
        );
        assert_eq!(&encode_heartbeat(Encoding::Json, false)[..], b"{}");
        for enc in [Encoding::Protobuf, Encoding::Json] {
            assert!(is_lastbeat(enc, &encode_heartbeat(enc, true)));
            assert!(!is_lastbeat(enc, &encode_heartbeat(enc, false)));
        }
    }

    #[test]
    fn classifies_stream_messages() {
        for enc in [Encoding::Protobuf, Encoding::Json] {
            assert_eq!(Frame::classify(enc, KEEPALIVE, false), Ok(Frame::Keepalive));
            let eos = ErrorFrame::eos(7).encode(enc);
            assert_eq!(
                Frame::classify(enc, &eos, false),
                Ok(Frame::End { count: 7 })
            );
            let err = ErrorFrame::from_status(&Status::not_found("x"));
            assert_eq!(
                Frame::classify(enc, &err.encode(enc), true),
                Ok(Frame::Error(err))
            );
        }
        assert_eq!(
            Frame::classify(Encoding::Protobuf, b"\x0a\x01a", false),
            Ok(Frame::Item)
        );
        assert!(Frame::classify(Encoding::Protobuf, b"\x00\xff", false).is_err());
    }

    #[test]
    fn an_empty_client_error_is_not_a_keepalive() {
        // CLIENT (type 0) with no message encodes to a lone 0x00.
        let empty = ErrorFrame::from_status(&Status::invalid_argument(""));
        let bytes = empty.encode(Encoding::Protobuf);
        assert_eq!(&bytes[..], KEEPALIVE);
        assert_eq!(
            Frame::classify(Encoding::Protobuf, &bytes, true),
            Ok(Frame::Error(empty))
        );
    }

    #[test]
    fn sender_waits_for_credit_and_counts() {
        let mut w = SendWindow::new(Some(2));
        assert!(w.try_send() && w.try_send());
        assert_eq!(w.sent(), 0, "not handed over yet");
        w.on_sent();
        w.on_sent();
        assert!(!w.try_send(), "no credit left");
        assert_eq!(w.available(), Some(0));
        w.set_limit(3);
        assert!(w.try_send());
        w.on_sent();
        assert!(!w.try_send());
        // A late, older announcement takes nothing back; a repeated one
        // gives nothing twice.
        w.set_limit(1);
        w.set_limit(3);
        assert!(!w.try_send());
        assert_eq!(w.sent(), 3);
    }

    #[test]
    fn sender_without_flow_control_never_waits() {
        let mut w = SendWindow::new(None);
        for _ in 0..10_000 {
            assert!(w.try_send());
            w.on_sent();
        }
        w.set_limit(5);
        assert_eq!((w.available(), w.sent()), (None, 10_000));
    }

    #[test]
    fn receiver_grants_every_half_window() {
        let mut r = ReceiveWindow::new(8);
        assert_eq!(r.limit(), 8);
        let grants: Vec<Option<u64>> = (0..9)
            .map(|_| {
                r.on_arrival().unwrap();
                r.on_item()
            })
            .collect();
        assert_eq!(
            grants,
            [None, None, None, Some(12), None, None, None, Some(16), None]
        );
        assert_eq!(r.limit(), 16);
        assert_eq!(r.on_end(9), Ok(()));
        assert_eq!(
            r.on_end(10),
            Err(CountMismatch {
                received: 9,
                sent: 10
            })
        );
    }

    #[test]
    fn a_receiver_refuses_items_beyond_its_credit() {
        let mut r = ReceiveWindow::new(4);
        for _ in 0..4 {
            assert_eq!(r.on_arrival(), Ok(()));
        }
        assert_eq!(r.on_arrival(), Err(CreditExceeded { granted: 4 }));
        let mut r = ReceiveWindow::new(4);
        for _ in 0..4 {
            r.on_arrival().unwrap();
            if let Some(limit) = r.on_item() {
                assert!(limit == 6 || limit == 8);
            }
        }
        // Two grants of 2 were sent: four more may arrive, not five.
        for _ in 0..4 {
            assert_eq!(r.on_arrival(), Ok(()));
        }
        assert!(r.on_arrival().is_err());
    }

    #[test]
    fn a_sender_and_receiver_never_exceed_one_window() {
        // Drive both machines as the runtime does, consuming in bursts.
        let mut rx = ReceiveWindow::new(16);
        let mut tx = SendWindow::new(Some(u64::from(rx.window())));
        let mut in_flight = 0u64;
        let mut delivered = 0u64;
        for round in 0..1000u64 {
            while tx.try_send() {
                tx.on_sent();
                in_flight += 1;
                assert!(in_flight <= 16, "more than a window in flight");
            }
            for _ in 0..(round % 7 + 1).min(in_flight) {
                in_flight -= 1;
                delivered += 1;
                rx.on_arrival()
                    .expect("a sender within credit is never refused");
                rx.on_progress(delivered).expect("nothing lost");
                if let Some(limit) = rx.on_item() {
                    // Every other announcement is lost: the next repairs it.
                    if round % 2 == 0 {
                        tx.set_limit(limit);
                    }
                }
            }
            // The periodic heartbeat re-announces the limit.
            tx.set_limit(rx.limit());
        }
        assert_eq!(rx.received(), delivered);
        assert_eq!(tx.sent(), delivered + in_flight);
        assert!(delivered > 1000, "the stream made progress: {delivered}");
    }

    #[test]
    fn numbered_items_round_trip_and_plain_ones_pass() {
        let item = number_item(300, b"\x0a\x01x");
        assert_eq!(item[0], NUMBERED);
        assert_eq!(
            split_numbered(item.clone()),
            Ok((Some(300), Bytes::from_static(b"\x0a\x01x")))
        );
        assert_eq!(
            Frame::classify(Encoding::Protobuf, &item, false),
            Ok(Frame::Item)
        );
        let plain = Bytes::from_static(b"\x0a\x01x");
        assert_eq!(split_numbered(plain.clone()), Ok((None, plain)));
        assert!(split_numbered(Bytes::from_static(&[NUMBERED, 0xff])).is_err());
    }

    #[test]
    fn an_item_out_of_sequence_reports_the_loss_at_once() {
        let mut r = ReceiveWindow::new(16);
        r.on_arrival().unwrap();
        assert_eq!(r.on_sequence(1), Ok(()));
        r.on_arrival().unwrap();
        assert_eq!(
            r.on_sequence(5),
            Err(DataLoss {
                arrived: 1,
                sent: 4
            })
        );
    }

    #[test]
    fn a_keepalive_counting_more_than_arrived_reports_the_loss() {
        let mut r = ReceiveWindow::new(16);
        for _ in 0..3 {
            r.on_arrival().unwrap();
        }
        assert_eq!(r.on_progress(3), Ok(()));
        assert_eq!(
            r.on_progress(5),
            Err(DataLoss {
                arrived: 3,
                sent: 5
            })
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn stream_decoders_never_panic(
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            coded in any::<bool>(),
        ) {
            for enc in [Encoding::Protobuf, Encoding::Json] {
                let _ = Frame::classify(enc, &payload, coded);
                let _ = is_lastbeat(enc, &payload);
            }
            let _ = split_numbered(Bytes::from(payload));
        }

        #[test]
        fn numbered_items_round_trip(seq in 1u64.., item in proptest::collection::vec(any::<u8>(), 0..64)) {
            let numbered = number_item(seq, &item);
            prop_assert_eq!(split_numbered(numbered), Ok((Some(seq), Bytes::from(item))));
        }

        #[test]
        fn header_values_never_panic(value in ".{0,30}") {
            let _ = crate::headers::parse_timeout(&value);
            let _ = crate::headers::parse_count(&value);
            let _ = crate::headers::parse_credit(&value);
            let _ = crate::headers::parse_code(&value);
        }
    }
}
