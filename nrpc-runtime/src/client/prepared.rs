//! A call ready to be sent, as `ServiceClient::prepare` makes it for every
//! call kind.

use std::time::Duration;

use nrpc_wire::Encoding;
use tracing::Span;

use super::router::Outgoing;

/// Which subjects a call goes to.
#[derive(Debug, Clone, Copy)]
pub(super) enum Route {
    /// The queue-group subject, or the chosen instance's.
    Default,
    /// Every instance (`_NRPC.all.`).
    Broadcast,
    /// The method subject itself, whatever instance the client is set to
    /// (Go nRPC's Poll).
    Plain,
}

/// A call ready to be sent, the encoding of its answer, (streams) when it
/// must have ended, and its span.
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) out: Outgoing,
    pub(super) encoding: Encoding,
    pub(super) stream_deadline: Option<Duration>,
    pub(super) span: Span,
}
