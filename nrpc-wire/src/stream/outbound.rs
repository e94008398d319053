//! What a stream sends besides its items: one builder per frame kind, so
//! every keepalive, accept, grant, heartbeat, end and error frame is made in
//! one place. Items themselves are [`number_item`](super::number_item) and
//! [`encode_batch`](super::encode_batch).

use bytes::Bytes;

use super::{encode_heartbeat, Headers, KEEPALIVE};
use crate::{headers, Encoding, ErrorFrame, Status};

/// One message to publish: its headers (none: a plain message, as Go peers
/// send) and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFrame {
    /// Header names and values.
    pub headers: Vec<(&'static str, String)>,
    /// The payload.
    pub payload: Bytes,
}

impl OutFrame {
    fn keepalive_with(headers: Vec<(&'static str, String)>) -> Self {
        Self {
            headers,
            payload: Bytes::from_static(KEEPALIVE),
        }
    }

    /// A keepalive (`0x00`) on the items' subject: the sender is alive and
    /// has sent `sent` items in all; a receiver of request items also
    /// re-announces its `credit_limit` this way.
    pub fn keepalive(sent: Option<u64>, credit_limit: Option<u64>) -> Self {
        let mut h = Vec::with_capacity(2);
        h.extend(sent.map(|n| (headers::SENT, n.to_string())));
        h.extend(credit_limit.map(|n| (headers::CREDIT_LIMIT, n.to_string())));
        Self::keepalive_with(h)
    }

    /// The server's accept of a request stream: a keepalive naming the
    /// `inbox` for the client's items and granting `credit`; the server
    /// reads batches.
    pub fn accept(inbox: &str, credit: u64) -> Self {
        Self::keepalive_with(vec![
            (headers::STREAM_INBOX, inbox.to_owned()),
            (headers::CREDIT_LIMIT, credit.to_string()),
            (headers::STREAM_BATCH, "1".to_owned()),
        ])
    }

    /// The client's heartbeat on `<reply>.heartbeat`, carrying its
    /// cumulative credit for the server's items (a grant, or its repeat).
    pub fn heartbeat(encoding: Encoding, credit_limit: u64) -> Self {
        Self {
            headers: vec![(headers::CREDIT_LIMIT, credit_limit.to_string())],
            payload: encode_heartbeat(encoding, false),
        }
    }

    /// The client's cancellation of a stream (nRPC's `lastbeat`).
    pub fn lastbeat(encoding: Encoding) -> Self {
        Self {
            headers: Vec::new(),
            payload: encode_heartbeat(encoding, true),
        }
    }

    /// The end of a stream of `count` items (`EOS`).
    pub fn end(encoding: Encoding, count: u64) -> Self {
        Self {
            headers: Vec::new(),
            payload: ErrorFrame::eos(count).encode(encoding),
        }
    }

    /// An error that ends a stream or answers a request: the nRPC error
    /// frame with `Nrpc-Code` and the NATS services error headers.
    pub fn error(encoding: Encoding, status: &Status) -> Self {
        Self {
            headers: headers::error_headers(status).into(),
            payload: ErrorFrame::from_status(status).encode(encoding),
        }
    }

    /// The headers a stream call's request carries: the client's initial
    /// credit, and that it reads batches (the server reads them with
    /// [`Opening::read`]).
    pub fn open_headers(window: u32) -> [(&'static str, String); 2] {
        [
            (headers::STREAM_CREDIT, window.to_string()),
            (headers::STREAM_BATCH, "1".to_owned()),
        ]
    }
}

/// How the items of a stream go out: what the client's request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// As they are, one per message (a Go nRPC client: no credit offered).
    Plain,
    /// Numbered, one per message (an nrpc client).
    Numbered,
    /// Numbered, several per message where they queue up (an nrpc client
    /// that reads batches).
    Batched,
}

/// What a stream call's request offers (the headers of
/// [`OutFrame::open_headers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opening {
    /// The client's initial credit; `None` when it uses no flow control.
    pub credit: Option<u32>,
    /// How to send it items.
    pub framing: Framing,
}

impl Opening {
    /// Reads a stream call's request headers.
    pub fn read(h: &(impl Headers + ?Sized)) -> Self {
        let credit = h
            .get(headers::STREAM_CREDIT)
            .and_then(headers::parse_credit);
        let framing = match (credit, h.get(headers::STREAM_BATCH)) {
            (None, _) => Framing::Plain,
            (Some(_), None) => Framing::Numbered,
            (Some(_), Some(_)) => Framing::Batched,
        };
        Self { credit, framing }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opening_request_says_how_items_go_out() {
        let h = OutFrame::open_headers(64);
        let h: Vec<(&str, &str)> = h.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(
            Opening::read(&h[..]),
            Opening {
                credit: Some(64),
                framing: Framing::Batched
            }
        );
        let numbered = [(headers::STREAM_CREDIT, "8")];
        assert_eq!(Opening::read(&numbered[..]).framing, Framing::Numbered);
        // A Go client offers nothing; a credit that is not a count is none.
        assert_eq!(Opening::read(&()).framing, Framing::Plain);
        let bad = [(headers::STREAM_CREDIT, "-1"), (headers::STREAM_BATCH, "1")];
        assert_eq!(
            Opening::read(&bad[..]),
            Opening {
                credit: None,
                framing: Framing::Plain
            }
        );
    }
}
