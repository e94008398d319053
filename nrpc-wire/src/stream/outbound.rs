//! What a stream sends besides its items: one builder per frame kind, so
//! every keepalive, accept, grant, heartbeat, end and error frame is made in
//! one place. Items themselves are [`number_item`](super::number_item) and
//! [`encode_batch`](super::encode_batch).

use bytes::Bytes;

use super::{encode_heartbeat, KEEPALIVE};
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
    /// credit, and that it reads batches.
    pub fn open_headers(window: u32) -> [(&'static str, String); 2] {
        [
            (headers::STREAM_CREDIT, window.to_string()),
            (headers::STREAM_BATCH, "1".to_owned()),
        ]
    }
}
