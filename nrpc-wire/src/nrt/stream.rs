//! Bodies streamed between nrpc-http peers: an extension nrt peers never
//! see. A request body too large for one message, and a response body of
//! unknown length (server-sent events, a file), go as numbered chunks with
//! credit-based flow control, each side on an inbox of its own.
//!
//! * **Response**: a request carrying [`STREAM_HEADER`](super::STREAM_HEADER)
//!   may be answered with a *head* (the response without a body,
//!   [`encode_response_head`](super::encode_response_head)) marked
//!   [`BODY`]` : stream`, whose reply subject `C` is where the client sends
//!   credit and cancel. The client answers on `C` with [`CREDIT`]` : W` and
//!   a reply subject of its own, where the chunks then go.
//! * **Request**: a request whose body does not fit goes to
//!   [`stream_subject`](super::stream_subject) as a head
//!   ([`encode_request_head`](super::encode_request_head)). The server
//!   accepts with a message carrying [`CREDIT`]` : W` whose reply subject is
//!   where the chunks go; credit comes back on the request's reply subject,
//!   which then also gets the response (whole or streamed). A response that
//!   arrives before the whole body was sent ends the upload.
//!
//! A chunk is a message whose payload is body bytes and whose [`CHUNK`]
//! header says its number (from 1) and whether it is the last or an
//! abort (payload: why). A sender idle for a
//! [`HEARTBEAT_INTERVAL`](crate::stream::HEARTBEAT_INTERVAL) says how many
//! chunks it sent ([`SENT`]); a receiver re-announces its credit as often
//! (its heartbeat) and sends [`CANCEL`] when its reader goes away. Silence
//! for [`INACTIVITY_TIMEOUT`](crate::stream::INACTIVITY_TIMEOUT) ends a
//! stream on either side; a gap in the numbers is data loss. The windows
//! are [`SendWindow`](crate::stream::SendWindow) and
//! [`ReceiveWindow`](crate::stream::ReceiveWindow), as for nRPC streams.

use super::WireError;

/// NATS header of a chunk: `<n>`, `<n> end` (the last) or `<n> abort`.
pub const CHUNK: &str = "Nrpc-Chunk";
/// NATS header of a sender's keepalive: chunks sent so far.
pub const SENT: &str = "Nrpc-Sent";
/// NATS header of a receiver's credit: chunks the sender may have sent in
/// all. On a server's first answer to a streamed request, the accept.
pub const CREDIT: &str = "Nrpc-Credit";
/// NATS header of a receiver that stops reading (any value).
pub const CANCEL: &str = "Nrpc-Cancel";
/// NATS header of a response head whose body follows in chunks: `stream`.
pub const BODY: &str = "Nrpc-Body";

/// Chunks a receiver lets a sender send ahead of what it has read.
pub const WINDOW: u32 = 16;
/// The most body bytes in one chunk.
pub const MAX_CHUNK: usize = 128 * 1024;
/// Room left in a chunk message for its subject and headers.
const CHUNK_ROOM: usize = 1024;

/// Body bytes per chunk on a broker with `max_payload`.
pub fn chunk_size(max_payload: usize) -> usize {
    MAX_CHUNK.min(max_payload.saturating_sub(CHUNK_ROOM)).max(1)
}

/// How a chunk relates to the end of its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// More chunks follow.
    More,
    /// The last chunk: the body is complete.
    Last,
    /// The sender failed: the body is incomplete (the payload says why).
    Abort,
}

/// What a message of a streamed exchange is, by its NATS headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A chunk of body bytes (the payload), its number and place.
    Chunk(u64, End),
    /// The sender is alive and has sent this many chunks.
    Sent(u64),
    /// The receiver lets the sender have sent this many chunks in all.
    Credit(u64),
    /// The receiver stops reading.
    Cancel,
    /// A response head; its body follows in chunks.
    Head,
    /// A whole message: a response with its body (all an nrt peer sends).
    Whole,
}

impl Signal {
    /// Reads a message's signal; `header` looks up one of its NATS headers.
    pub fn read<'a>(header: impl Fn(&'static str) -> Option<&'a str>) -> Result<Self, WireError> {
        let number = |name: &str, value: &str| {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| WireError::Response(format!("a {name} header {value:?}")))
        };
        if let Some(value) = header(CHUNK) {
            let (seq, end) = match value.trim().split_once(' ') {
                None => (value, End::More),
                Some((seq, "end")) => (seq, End::Last),
                Some((seq, "abort")) => (seq, End::Abort),
                Some(_) => return Err(WireError::Response(format!("a {CHUNK} header {value:?}"))),
            };
            return Ok(Signal::Chunk(number(CHUNK, seq)?, end));
        }
        if let Some(value) = header(CREDIT) {
            return Ok(Signal::Credit(number(CREDIT, value)?));
        }
        if let Some(value) = header(SENT) {
            return Ok(Signal::Sent(number(SENT, value)?));
        }
        if header(CANCEL).is_some() {
            return Ok(Signal::Cancel);
        }
        Ok(match header(BODY) {
            Some("stream") => Signal::Head,
            Some(other) => return Err(WireError::Response(format!("a {BODY} header {other:?}"))),
            None => Signal::Whole,
        })
    }

    /// The signal as one NATS header (name, value); `None` for a whole
    /// message, which has none.
    pub fn header(self) -> Option<(&'static str, String)> {
        Some(match self {
            Signal::Chunk(seq, End::More) => (CHUNK, seq.to_string()),
            Signal::Chunk(seq, End::Last) => (CHUNK, format!("{seq} end")),
            Signal::Chunk(seq, End::Abort) => (CHUNK, format!("{seq} abort")),
            Signal::Sent(n) => (SENT, n.to_string()),
            Signal::Credit(n) => (CREDIT, n.to_string()),
            Signal::Cancel => (CANCEL, "1".to_owned()),
            Signal::Head => (BODY, "stream".to_owned()),
            Signal::Whole => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &'static str, value: &'static str) -> Result<Signal, WireError> {
        Signal::read(move |n| (n == name).then_some(value))
    }

    #[test]
    fn signals_round_trip_through_their_header() {
        for signal in [
            Signal::Chunk(1, End::More),
            Signal::Chunk(7, End::Last),
            Signal::Chunk(3, End::Abort),
            Signal::Sent(12),
            Signal::Credit(32),
            Signal::Cancel,
            Signal::Head,
        ] {
            let Some((name, value)) = signal.header() else {
                panic!("{signal:?} has a header");
            };
            assert_eq!(
                Signal::read(|n| (n == name).then_some(value.as_str())),
                Ok(signal)
            );
        }
        assert_eq!(Signal::read(|_| None), Ok(Signal::Whole));
        assert_eq!(Signal::Whole.header(), None);
    }

    #[test]
    fn bad_signals_are_errors() {
        for (name, value) in [
            (CHUNK, "x"),
            (CHUNK, "1 later"),
            (CHUNK, "-1"),
            (CREDIT, "lots"),
            (SENT, ""),
            (BODY, "whole"),
        ] {
            assert!(read(name, value).is_err(), "{name}: {value}");
        }
    }

    #[test]
    fn chunks_fit_the_broker() {
        assert_eq!(chunk_size(1024 * 1024), MAX_CHUNK);
        assert_eq!(chunk_size(64 * 1024), 63 * 1024);
        assert_eq!(chunk_size(10), 1);
    }
}
