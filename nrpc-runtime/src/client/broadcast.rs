//! Broadcast calls' settings and replies: [`BroadcastOptions`],
//! [`Broadcast`], [`BroadcastReply`].

use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;

use super::error::CallError;
use super::options::CallOptions;
use crate::Response;

/// One instance's answer to a broadcast call.
#[derive(Debug)]
pub struct BroadcastReply<T> {
    /// The answering instance (its NATS services id); use it for direct
    /// calls with `with_instance`.
    pub instance: String,
    /// Its reply.
    pub result: Result<Response<T>, CallError>,
}

/// Settings of a broadcast call.
#[derive(Debug, Clone)]
pub struct BroadcastOptions {
    pub(super) call: CallOptions,
    pub(super) max_replies: Option<usize>,
    pub(super) idle_gap: Duration,
    /// `None`: the client's choice.
    pub(super) via: Option<BroadcastVia>,
}

/// Which subject a broadcast goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BroadcastVia {
    /// `_NRPC.all.<subject>`, which every nrpc server instance subscribes
    /// without a queue group: each instance answers once, even when the
    /// instances share a queue group for ordinary calls. The default.
    #[default]
    RoutingPrefix,
    /// The method subject itself, as Go nRPC's `Poll` does: reaches every
    /// Go nRPC server (they subscribe without a queue group) and nrpc
    /// servers run with `no_queue_group()`; servers in a queue group answer
    /// once per group.
    MethodSubject,
}

/// Why a broadcast's stream of replies ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastEnd {
    /// `max_replies` replies arrived.
    MaxReplies,
    /// The overall deadline passed.
    Deadline,
    /// No reply arrived for the idle gap.
    IdleGap,
    /// Nobody subscribes to the subject (reported at once).
    NoResponders,
    /// The connection closed.
    Closed,
}

/// The replies of a broadcast call, as they arrive; after the last one,
/// [`end`](Self::end) says why the stream ended.
pub struct Broadcast<T> {
    pub(super) replies: BoxStream<'static, BroadcastReply<T>>,
    pub(super) end: Arc<std::sync::Mutex<Option<BroadcastEnd>>>,
}

impl<T> Broadcast<T> {
    /// Why the stream ended; `None` while it goes on.
    pub fn end(&self) -> Option<BroadcastEnd> {
        *self.end.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> std::fmt::Debug for Broadcast<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcast")
            .field("end", &self.end())
            .finish_non_exhaustive()
    }
}

impl<T> futures::Stream for Broadcast<T> {
    type Item = BroadcastReply<T>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.replies.poll_next_unpin(cx)
    }
}

/// How long a broadcast waits for one more reply unless told otherwise.
pub const DEFAULT_IDLE_GAP: Duration = Duration::from_secs(1);

impl Default for BroadcastOptions {
    fn default() -> Self {
        Self {
            call: CallOptions::default(),
            max_replies: None,
            idle_gap: DEFAULT_IDLE_GAP,
            via: None,
        }
    }
}

impl BroadcastOptions {
    /// Defaults: the client's timeout as overall deadline, no reply limit,
    /// [`DEFAULT_IDLE_GAP`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop after this many replies.
    pub fn max_replies(mut self, n: usize) -> Self {
        self.max_replies = Some(n);
        self
    }

    /// Stop when no reply arrives for this long (counted from the request,
    /// then from each reply).
    pub fn idle_gap(mut self, gap: Duration) -> Self {
        self.idle_gap = gap;
        self
    }

    /// Overall deadline (also sent to the servers).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.call = self.call.timeout(timeout);
        self
    }

    /// Per-call headers and encoding.
    pub fn call_options(mut self, call: CallOptions) -> Self {
        self.call = call;
        self
    }

    /// The subject to broadcast on, instead of the client's choice
    /// (`with_broadcast_via`; default [`BroadcastVia::RoutingPrefix`]).
    pub fn via(mut self, via: BroadcastVia) -> Self {
        self.via = Some(via);
        self
    }
}
