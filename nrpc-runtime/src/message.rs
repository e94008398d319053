//! What nrpc reads off a received NATS message's headers.

use async_nats::{HeaderMap, Message};
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

/// A count header (`Nrpc-Credit-Limit`, `Nrpc-Sent`), if present and valid.
pub(crate) fn count(msg: &Message, name: &str) -> Option<u64> {
    header(msg, name).and_then(headers::parse_count)
}

/// The exact code an nrpc peer put on an error reply (`Nrpc-Code`).
pub(crate) fn code(msg: &Message) -> Option<Code> {
    header(msg, headers::CODE).and_then(headers::parse_code)
}
