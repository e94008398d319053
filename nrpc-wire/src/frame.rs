//! Payload framing: encodings and the error reply format.
//!
//! A success reply is the plain encoding of the output message. An error
//! reply is `0x00` + encoded `nrpc.Error` in protobuf, or
//! `{"__error__":<Error as JSON>}` in JSON. A valid protobuf message never
//! starts with `0x00` (field number 0 does not exist), so the first byte
//! decides.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message as _;

use crate::proto;
use crate::status::{Code, Status};
use crate::{Encoding, ErrorType};

const JSON_ERROR_PREFIX: &[u8] = b"{\"__error__\":";

/// Longest error message sent, in bytes: an error reply carries its text
/// twice (frame and `Nats-Service-Error` header) and must stay far below
/// any `max_payload`.
pub const MAX_MESSAGE_LEN: usize = 1024;

/// `text` cut to at most [`MAX_MESSAGE_LEN`] bytes, at a character boundary.
pub fn bounded(text: &str) -> &str {
    if text.len() <= MAX_MESSAGE_LEN {
        return text;
    }
    let mut end = MAX_MESSAGE_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A payload that claims to be an nRPC error frame but does not decode.
/// Whoever receives it decides whom to blame (a client reports it as an
/// undecodable reply, a server as the client's invalid argument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(pub String);

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "undecodable nRPC error frame: {}", self.0)
    }
}

impl std::error::Error for FrameError {}

/// An nRPC error as it travels in a reply payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFrame {
    /// The nRPC error type.
    pub kind: ErrorType,
    /// The message text.
    pub message: String,
    /// Items sent, for `EOS`.
    pub msg_count: u32,
}

impl ErrorFrame {
    /// The frame for a status; its message is cut to
    /// [`MAX_MESSAGE_LEN`] bytes, so an error reply always fits.
    pub fn from_status(status: &Status) -> Self {
        Self {
            kind: status.code().nrpc_type(),
            message: bounded(status.message()).to_owned(),
            msg_count: 0,
        }
    }

    /// The end of a stream after `count` items (`EOS` with `msgCount`).
    pub fn eos(count: u64) -> Self {
        Self {
            kind: ErrorType::Eos,
            message: String::new(),
            msg_count: u32::try_from(count).unwrap_or(u32::MAX),
        }
    }

    /// Encodes the frame as an error reply payload.
    pub fn encode(&self, encoding: Encoding) -> Bytes {
        match encoding {
            Encoding::Protobuf => {
                let msg = proto::Error {
                    r#type: self.kind as i32,
                    message: self.message.clone(),
                    msg_count: self.msg_count,
                };
                let mut buf = BytesMut::with_capacity(1 + msg.encoded_len());
                buf.put_u8(0);
                // Encoding into a buffer with enough capacity cannot fail.
                let _ = msg.encode(&mut buf);
                buf.freeze()
            }
            Encoding::Json => {
                // Protobuf JSON mapping: default values are omitted.
                let mut inner = serde_json::Map::new();
                if self.kind != ErrorType::Client {
                    inner.insert("type".into(), self.kind.as_str().into());
                }
                if !self.message.is_empty() {
                    inner.insert("message".into(), self.message.clone().into());
                }
                if self.msg_count != 0 {
                    inner.insert("msgCount".into(), self.msg_count.into());
                }
                let mut out = JSON_ERROR_PREFIX.to_vec();
                out.extend_from_slice(serde_json::Value::Object(inner).to_string().as_bytes());
                out.push(b'}');
                Bytes::from(out)
            }
        }
    }

    /// Splits a reply payload into an error frame, or `None` if it is a
    /// regular message. A payload that claims to be an error but does not
    /// decode is an error of its own.
    pub fn decode(encoding: Encoding, payload: &[u8]) -> Result<Option<Self>, FrameError> {
        match encoding {
            Encoding::Protobuf => {
                if payload.first() != Some(&0) {
                    return Ok(None);
                }
                let msg =
                    proto::Error::decode(&payload[1..]).map_err(|e| FrameError(e.to_string()))?;
                Ok(Some(Self {
                    kind: ErrorType::from_wire(msg.r#type),
                    message: msg.message,
                    msg_count: msg.msg_count,
                }))
            }
            Encoding::Json => {
                if !payload.starts_with(JSON_ERROR_PREFIX) {
                    return Ok(None);
                }
                let bad = FrameError;
                let value: serde_json::Value =
                    serde_json::from_slice(payload).map_err(|e| bad(e.to_string()))?;
                let inner = value
                    .get("__error__")
                    .and_then(|v| v.as_object())
                    .ok_or_else(|| bad("`__error__` is not an object".into()))?;
                let kind = match inner.get("type") {
                    None => ErrorType::Client,
                    Some(serde_json::Value::String(s)) => ErrorType::from_name(s),
                    Some(serde_json::Value::Number(n)) => n
                        .as_i64()
                        .and_then(|n| i32::try_from(n).ok())
                        .map(ErrorType::from_wire)
                        .ok_or_else(|| bad(format!("error type {n} out of range")))?,
                    Some(other) => return Err(bad(format!("bad error type {other}"))),
                };
                let message = inner
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or_default()
                    .to_owned();
                // proto3 JSON writes uint32 as a number; a string is accepted too.
                let msg_count = match inner.get("msgCount") {
                    None => 0,
                    Some(c) => c
                        .as_u64()
                        .or_else(|| c.as_str()?.parse().ok())
                        .and_then(|c| u32::try_from(c).ok())
                        .ok_or_else(|| bad(format!("msgCount {c} is not a uint32")))?,
                };
                Ok(Some(Self {
                    kind,
                    message,
                    msg_count,
                }))
            }
        }
    }

    /// The status this frame stands for; `code` (from the `Nrpc-Code`
    /// header) wins over the nRPC type when present.
    pub fn into_status(self, code: Option<Code>) -> Status {
        let code = code.unwrap_or_else(|| Code::from_nrpc_type(self.kind));
        Status::new(code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: ErrorType, message: &str) -> ErrorFrame {
        ErrorFrame {
            kind,
            message: message.into(),
            msg_count: 0,
        }
    }

    #[test]
    fn protobuf_error_bytes_match_nrpc() {
        let b = frame(ErrorType::Server, "Some error").encode(Encoding::Protobuf);
        assert_eq!(
            &b[..],
            b"\x00\x08\x01\x12\x0aSome error",
            "SERVER error must be 00 08 01 12 0a ..."
        );
        let b = frame(ErrorType::Client, "anerror").encode(Encoding::Protobuf);
        assert_eq!(&b[..], b"\x00\x12\x07anerror");
        let eos = ErrorFrame {
            kind: ErrorType::Eos,
            message: String::new(),
            msg_count: 3,
        };
        assert_eq!(&eos.encode(Encoding::Protobuf)[..], b"\x00\x08\x03\x18\x03");
    }

    #[test]
    fn json_error_matches_nrpc() {
        let b = frame(ErrorType::Server, "Some error").encode(Encoding::Json);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert!(b.starts_with(b"{\"__error__\":"));
        assert_eq!(
            v,
            serde_json::json!({"__error__": {"type": "SERVER", "message": "Some error"}})
        );
        let b = frame(ErrorType::Client, "anerror").encode(Encoding::Json);
        assert_eq!(&b[..], br#"{"__error__":{"message":"anerror"}}"#);
    }

    #[test]
    fn decodes_what_it_encodes_and_go_variants() {
        for enc in [Encoding::Protobuf, Encoding::Json] {
            let f = frame(ErrorType::ServerTooBusy, "busy");
            assert_eq!(ErrorFrame::decode(enc, &f.encode(enc)).unwrap(), Some(f));
        }
        // Go may put a space after the colon inside the object.
        let go = br#"{"__error__":{"type": "EOS", "msgCount": 3}}"#;
        let f = ErrorFrame::decode(Encoding::Json, go).unwrap().unwrap();
        assert_eq!((f.kind, f.msg_count), (ErrorType::Eos, 3));
        assert_eq!(
            ErrorFrame::decode(Encoding::Json, b"{\"a\":1}").unwrap(),
            None
        );
        assert_eq!(
            ErrorFrame::decode(Encoding::Protobuf, b"\x08\x01").unwrap(),
            None
        );
        assert!(ErrorFrame::decode(Encoding::Protobuf, b"\x00\xff").is_err());
    }

    #[test]
    fn json_numbers_out_of_range_are_errors() {
        let big = br#"{"__error__":{"type":"EOS","msgCount":4294967299}}"#;
        assert!(ErrorFrame::decode(Encoding::Json, big).is_err());
        let big = br#"{"__error__":{"type":4294967299}}"#;
        assert!(ErrorFrame::decode(Encoding::Json, big).is_err());
        let ok = br#"{"__error__":{"type":"EOS","msgCount":"4294967295"}}"#;
        let f = ErrorFrame::decode(Encoding::Json, ok).unwrap().unwrap();
        assert_eq!(f.msg_count, u32::MAX);
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let text = "é".repeat(MAX_MESSAGE_LEN);
        let f = ErrorFrame::from_status(&Status::internal(text));
        assert!(f.message.len() <= MAX_MESSAGE_LEN && f.message.len() >= MAX_MESSAGE_LEN - 1);
        assert!(f.message.chars().all(|c| c == 'é'));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn kind() -> impl Strategy<Value = ErrorType> {
        prop_oneof![
            Just(ErrorType::Client),
            Just(ErrorType::Server),
            Just(ErrorType::Eos),
            Just(ErrorType::ServerTooBusy),
        ]
    }

    proptest! {
        #[test]
        fn decoding_any_payload_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = ErrorFrame::decode(Encoding::Protobuf, &payload);
            let _ = ErrorFrame::decode(Encoding::Json, &payload);
            let mut json = JSON_ERROR_PREFIX.to_vec();
            json.extend_from_slice(&payload);
            let _ = ErrorFrame::decode(Encoding::Json, &json);
        }

        #[test]
        fn every_frame_round_trips(kind in kind(), message in ".{0,40}", msg_count in any::<u32>()) {
            let frame = ErrorFrame { kind, message, msg_count };
            for enc in [Encoding::Protobuf, Encoding::Json] {
                prop_assert_eq!(ErrorFrame::decode(enc, &frame.encode(enc)), Ok(Some(frame.clone())));
            }
        }
    }
}
