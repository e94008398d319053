//! What nrpc reads off a received NATS message's headers, and how it
//! publishes the frames `nrpc_wire::stream::OutFrame` builds.

use async_nats::{HeaderMap, Message, Subject};
use nrpc_wire::stream::{self as wire_stream, OutFrame};
use nrpc_wire::{headers, Code};

/// The value of header `name`, if the message has it.
pub(crate) fn header<'m>(msg: &'m Message, name: &str) -> Option<&'m str> {
    get(msg.headers.as_ref()?, name)
}

/// The first value of header `name` in `map`. Free for an empty map (most
/// requests): async-nats builds a header name for every lookup.
pub(crate) fn get<'m>(map: &'m HeaderMap, name: &str) -> Option<&'m str> {
    if map.is_empty() {
        return None;
    }
    map.get(name).map(|v| v.as_str())
}

/// The exact code an nrpc peer put on an error reply (`Nrpc-Code`).
pub(crate) fn code(msg: &Message) -> Option<Code> {
    header(msg, headers::CODE).and_then(headers::parse_code)
}

/// A received message's headers, as the stream machines read them.
pub(crate) struct Headers<'m>(pub(crate) Option<&'m HeaderMap>);

impl<'m> Headers<'m> {
    pub(crate) fn of(msg: &'m Message) -> Self {
        Self(msg.headers.as_ref())
    }
}

impl wire_stream::Headers for Headers<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        get(self.0?, name)
    }
}

/// Adds `headers` (names and values nrpc-wire made) to `map`.
pub(crate) fn insert_all<'a>(
    map: &mut HeaderMap,
    headers: impl IntoIterator<Item = &'a (&'static str, String)>,
) {
    for (name, value) in headers {
        map.insert(*name, value.as_str());
    }
}

/// Publishes one stream frame to `subject` (without headers when it has
/// none, as Go peers send).
pub(crate) async fn publish(
    nats: &async_nats::Client,
    subject: Subject,
    frame: OutFrame,
) -> Result<(), async_nats::PublishError> {
    if frame.headers.is_empty() {
        return nats.publish(subject, frame.payload).await;
    }
    let mut map = HeaderMap::new();
    insert_all(&mut map, &frame.headers);
    nats.publish_with_headers(subject, map, frame.payload).await
}
