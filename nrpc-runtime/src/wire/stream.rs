//! Streamed replies: nRPC's protocol plus nrpc's credit extension.
//!
//! nRPC: the client publishes the request with reply subject `R` and sends
//! a heartbeat (`HeartBeat{}`) to `R.heartbeat` every second; the server
//! sends a one-byte `0x00` keepalive to `R` every second, each item as a
//! plain message, and ends with `0x00 + Error{EOS, msgCount}` or another
//! error; `HeartBeat{lastbeat: true}` cancels.
//!
//! nrpc extension (ignored by Go peers): a request header
//! `Nrpc-Stream-Credit: W` asks the server to send at most `W` items ahead
//! of the client; the client grants more with heartbeats carrying
//! `Nrpc-Credit: n`. For client-streaming and bidirectional methods the
//! server first answers with a keepalive carrying `Nrpc-Stream-Inbox: S`
//! and `Nrpc-Credit: n`; the client sends its items to `S` (ending with
//! `EOS`) within the credit the server grants by keepalives with
//! `Nrpc-Credit`.

use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;

use super::Encoding;
use crate::proto::HeartBeat;

/// How often each side shows it is alive.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Silence after which the other side counts as gone.
pub const INACTIVITY_TIMEOUT: Duration = Duration::from_secs(5);
/// Items a client lets a server send ahead unless told otherwise.
pub const DEFAULT_WINDOW: u32 = 1024;
/// Request header: the client's initial credit (items).
pub const STREAM_CREDIT: &str = "Nrpc-Stream-Credit";
/// Heartbeat header: more credit (items).
pub const CREDIT: &str = "Nrpc-Credit";
/// Control header on the server's accept of a client stream: the subject
/// the client sends its items to.
pub const STREAM_INBOX: &str = "Nrpc-Stream-Inbox";
/// The server's keepalive payload.
pub const KEEPALIVE: &[u8] = &[0];

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

#[cfg(test)]
mod tests {
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
}
