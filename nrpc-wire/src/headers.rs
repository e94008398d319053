//! Header names on nrpc messages and the rules for their values. nRPC
//! itself sets no headers; Go peers ignore these, so they are additive.

use std::time::Duration;

/// Remaining time the caller will wait, in whole milliseconds (relative, so
/// clocks need not agree). Set on requests.
pub const TIMEOUT: &str = "Nrpc-Timeout";
/// Exact [`Code`](crate::Code) of an error reply, as its gRPC number.
pub const CODE: &str = "Nrpc-Code";
/// NATS services standard: error description on an error reply.
pub const SERVICE_ERROR: &str = "Nats-Service-Error";
/// NATS services standard: numeric error code on an error reply.
pub const SERVICE_ERROR_CODE: &str = "Nats-Service-Error-Code";
/// The answering server instance's id, on replies to broadcast and direct
/// calls.
pub const INSTANCE: &str = "Nrpc-Instance";
/// The caller's id for one call: the caller's own, or a NUID when the
/// client records its spans; the same on retries, shown in both sides'
/// spans.
pub const REQUEST_ID: &str = "Nrpc-Request-Id";
/// Stream request header: the client's initial credit (items).
pub const STREAM_CREDIT: &str = "Nrpc-Stream-Credit";
/// Request header of an nrpc client that reads batches of stream items
/// ([`BATCH`](crate::stream::BATCH)); its value is `1`.
pub const STREAM_BATCH: &str = "Nrpc-Stream-Batch";
/// Heartbeat and keepalive header: the receiver's credit so far, cumulative
/// — the sender may have sent this many items in all. Re-sent every
/// second, so a lost grant is repaired by the next.
pub const CREDIT_LIMIT: &str = "Nrpc-Credit-Limit";
/// Keepalive header: items the sender has sent so far; a receiver that has
/// fewer lost some.
pub const SENT: &str = "Nrpc-Sent";

/// Header on the server's accept of a request stream: the subject the
/// client sends its items to.
pub const STREAM_INBOX: &str = "Nrpc-Stream-Inbox";

/// The `Nrpc-Timeout` value for a timeout.
pub fn format_timeout(timeout: Duration) -> String {
    timeout.as_millis().to_string()
}

/// The timeout an `Nrpc-Timeout` value gives; `None` if it is not a number
/// of milliseconds.
pub fn parse_timeout(value: &str) -> Option<Duration> {
    value.parse::<u64>().ok().map(Duration::from_millis)
}

/// A credit value (`Nrpc-Stream-Credit`); `None` if it is not a 32-bit
/// count of items.
pub fn parse_credit(value: &str) -> Option<u32> {
    value.parse().ok()
}

/// A cumulative count (`Nrpc-Credit-Limit`, `Nrpc-Sent`); `None` if it is
/// not a 64-bit count.
pub fn parse_count(value: &str) -> Option<u64> {
    value.parse().ok()
}

#[cfg(feature = "frames")]
mod status_headers {
    use crate::{Code, Status};

    /// The headers of an error reply: `Nrpc-Code` (exact code),
    /// `Nats-Service-Error-Code` (HTTP-style number) and
    /// `Nats-Service-Error` (the message cut to `frame::MAX_MESSAGE_LEN`,
    /// with control characters, which a header value cannot hold, turned
    /// into spaces).
    pub fn error_headers(status: &Status) -> [(&'static str, String); 3] {
        let text = message_value(status.message());
        [
            (super::CODE, status.code().as_i32().to_string()),
            (
                super::SERVICE_ERROR_CODE,
                status.code().service_error_code().to_string(),
            ),
            (super::SERVICE_ERROR, text),
        ]
    }

    /// A status message as a header value: cut to `frame::MAX_MESSAGE_LEN`,
    /// control characters (which a header value cannot hold) turned into
    /// spaces.
    pub fn message_value(message: &str) -> String {
        crate::frame::bounded(message)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }

    /// The code an `Nrpc-Code` value names.
    pub fn parse_code(value: &str) -> Option<Code> {
        value.parse().ok().and_then(Code::from_i32)
    }
}

#[cfg(feature = "frames")]
pub use status_headers::{error_headers, message_value, parse_code};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let t = Duration::from_millis(1500);
        assert_eq!(parse_timeout(&format_timeout(t)), Some(t));
        assert_eq!(parse_timeout("-1"), None);
        assert_eq!(parse_credit("64"), Some(64));
        assert_eq!(parse_credit("x"), None);
    }

    #[cfg(feature = "frames")]
    #[test]
    fn error_headers_have_no_line_breaks() {
        let h = error_headers(&crate::Status::not_found("a\nb"));
        assert_eq!(h[0], (CODE, "5".to_owned()));
        assert_eq!(h[1], (SERVICE_ERROR_CODE, "404".to_owned()));
        assert_eq!(h[2], (SERVICE_ERROR, "a b".to_owned()));
        assert_eq!(parse_code("5"), Some(crate::Code::NotFound));
        assert_eq!(parse_code("0"), None);
    }
}
