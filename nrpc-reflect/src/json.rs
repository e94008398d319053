//! JSON ↔ protobuf for messages known only by their descriptors, with
//! errors a user can act on: the field path, and close field names.

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::DynamicMessage;

use crate::{Error, Message, Result};

/// Encodes a JSON document as the protobuf message `message`; errors name
/// the field path.
pub fn encode(message: &Message, json: &str, what: &str) -> Result<Bytes> {
    let mut de = serde_json::Deserializer::from_str(json);
    match message {
        Message::Void => {
            let value: serde_json::Value = serde_path_to_error::deserialize(&mut de)
                .map_err(|e| Error::InvalidJson(format!("{what} is not JSON: {e}")))?;
            if !value.is_object() {
                return Err(Error::InvalidJson(format!(
                    "{what} must be a JSON object ({{}}), got {value}"
                )));
            }
            Ok(Bytes::new())
        }
        Message::Known(desc) => {
            let mut track = serde_path_to_error::Track::new();
            let parsed = DynamicMessage::deserialize(
                desc.clone(),
                serde_path_to_error::Deserializer::new(&mut de, &mut track),
            );
            let dynamic = parsed.map_err(|e| {
                Error::InvalidJson({
                    let path = track.path().to_string();
                    let at = if path == "." || path.is_empty() {
                        String::new()
                    } else {
                        format!("at {path}: ")
                    };
                    let message = format!(
                        "{what} is not a valid {}: {at}{e}{}",
                        desc.full_name(),
                        field_hint(desc, &path, &e.to_string())
                    );
                    clip(message, MAX_ERROR)
                })
            })?;
            de.end().map_err(|e| {
                Error::InvalidJson(format!("{what}: trailing characters after the JSON: {e}"))
            })?;
            Ok(Bytes::from(dynamic.encode_to_vec()))
        }
        Message::Unknown(name) => Err(Error::Undescribed(format!(
            "cannot encode {name}: its descriptor is not published; give its .proto"
        ))),
    }
}

/// How long an error about a request may be: it quotes the request (a
/// field's name, a value), which a caller may make as large as it likes.
const MAX_ERROR: usize = 1024;

/// `text`, cut to at most `max` bytes (on a character boundary) with `…`.
fn clip(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// For an unknown field: the close matches among the fields of the
/// message at `path` (`.` for the top).
fn field_hint(top: &prost_reflect::MessageDescriptor, path: &str, error: &str) -> String {
    let Some(name) = error
        .split("unrecognized field name '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
    else {
        return String::new();
    };
    // Walk the path's field names down to the message that has the field.
    let mut message = top.clone();
    for step in path
        .split('.')
        .filter(|s| !s.is_empty() && !s.starts_with('['))
    {
        let field = message
            .fields()
            .find(|f| f.json_name() == step || f.name() == step);
        match field.map(|f| f.kind()) {
            Some(prost_reflect::Kind::Message(m)) => message = m,
            _ => break,
        }
    }
    let names: Vec<String> = message.fields().map(|f| f.json_name().to_owned()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    // A name far longer than any field's is no typo of one.
    let hint = if name.len() <= 128 {
        crate::service::suggest(name, &names)
    } else {
        String::new()
    };
    if hint.is_empty() {
        format!(" (fields of {}: {})", message.full_name(), names.join(", "))
    } else {
        hint
    }
}

/// A reply as JSON (one line).
pub fn decode(message: &Message, payload: Bytes) -> Result<String> {
    match message {
        Message::Void => Ok("{}".to_owned()),
        Message::Known(desc) => {
            let dynamic = DynamicMessage::decode(desc.clone(), payload).map_err(|e| {
                Error::InvalidReply(format!(
                    "the reply is not a valid {}: {e}",
                    desc.full_name()
                ))
            })?;
            serde_json::to_string(&dynamic).map_err(|e| Error::InvalidReply(e.to_string()))
        }
        Message::Unknown(name) => Err(Error::Undescribed(format!(
            "cannot decode {name}: its descriptor is not published; give its .proto"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn errors_do_not_echo_a_huge_request() {
        assert_eq!(clip("abcdef".into(), 4), "abcd…");
        assert_eq!(clip("ééé".into(), 3), "é…");
        assert_eq!(clip("short".into(), 10), "short");
    }
}
