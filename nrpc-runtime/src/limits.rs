//! What NATS accepts in one message: every publish nrpc makes (requests,
//! replies, error replies, stream items) is checked here first, so nothing
//! is dropped by the broker or its client library without a word.

use async_nats::HeaderMap;

/// A message larger than the connection's `max_payload`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge {
    /// Payload and headers, in bytes.
    pub(crate) size: usize,
    /// The NATS server's limit.
    pub(crate) max: usize,
}

/// Bytes the headers take on the wire (`NATS/1.0\r\n`, lines, `\r\n`).
fn header_size(h: &HeaderMap) -> usize {
    let mut n = 12;
    for (name, values) in h.iter() {
        for v in values {
            n += AsRef::<[u8]>::as_ref(name).len() + 2 + v.as_str().len() + 2;
        }
    }
    n
}

/// Whether a message with these headers and this payload fits the
/// connection's `max_payload` (unknown before the first connect: fits).
pub(crate) fn check(
    nats: &async_nats::Client,
    headers: Option<&HeaderMap>,
    payload: usize,
) -> Result<(), TooLarge> {
    let max = nats.max_payload();
    let size = payload + headers.map_or(0, header_size);
    if max > 0 && size > max {
        return Err(TooLarge { size, max });
    }
    Ok(())
}
