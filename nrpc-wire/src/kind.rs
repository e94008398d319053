//! How a method is called.

use std::fmt;

/// How a method is called. Front ends derive it from the definition
/// (`.proto` options and stream markers, or `#[nrpc(…)]` arguments); the
/// runtime picks the call protocol by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// One request, one reply.
    Unary,
    /// The caller publishes and expects no reply (`returns (nrpc.NoReply)`).
    NoReply,
    /// Not callable: the service publishes events (`(nrpc.NoRequest)` input).
    NoRequest,
    /// nRPC streamed reply (`streamedReply = true`, proto3 `returns (stream T)`).
    StreamedReply,
    /// Requests stream in, one reply (proto3 `rpc X(stream A) returns (B)`;
    /// nrpc extension).
    ClientStreaming,
    /// Requests and replies both stream (nrpc extension).
    Bidirectional,
}

impl MethodKind {
    /// Every kind, in declaration order.
    pub const ALL: [MethodKind; 6] = [
        MethodKind::Unary,
        MethodKind::NoReply,
        MethodKind::NoRequest,
        MethodKind::StreamedReply,
        MethodKind::ClientStreaming,
        MethodKind::Bidirectional,
    ];

    /// The kind's name in discovery metadata (`nrpc.kind`) and tools, e.g.
    /// `streamed_reply`.
    pub fn as_str(self) -> &'static str {
        match self {
            MethodKind::Unary => "unary",
            MethodKind::NoReply => "no_reply",
            MethodKind::NoRequest => "no_request",
            MethodKind::StreamedReply => "streamed_reply",
            MethodKind::ClientStreaming => "client_streaming",
            MethodKind::Bidirectional => "bidirectional",
        }
    }

    /// The kind named by [`as_str`](Self::as_str).
    pub fn from_name(name: &str) -> Option<MethodKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether a client can call it (every kind but [`NoRequest`](Self::NoRequest)).
    pub fn is_callable(self) -> bool {
        self != MethodKind::NoRequest
    }

    /// Whether the call runs the stream protocol (heartbeats, keepalives, EOS).
    pub fn is_stream(self) -> bool {
        matches!(
            self,
            MethodKind::StreamedReply | MethodKind::ClientStreaming | MethodKind::Bidirectional
        )
    }

    /// Whether requests stream in from the client.
    pub fn streams_requests(self) -> bool {
        matches!(
            self,
            MethodKind::ClientStreaming | MethodKind::Bidirectional
        )
    }
}

impl MethodKind {
    /// How gRPC calls a method of this kind — whether its requests and its
    /// replies stream — or `None` for events, which gRPC cannot call. A
    /// bridge serves a method over gRPC only when its `.proto` stream
    /// markers say the same (nRPC's `streamedReply` option streams replies
    /// of an rpc that gRPC calls unary).
    pub fn grpc_streams(self) -> Option<(bool, bool)> {
        match self {
            MethodKind::Unary | MethodKind::NoReply => Some((false, false)),
            MethodKind::StreamedReply => Some((false, true)),
            MethodKind::ClientStreaming => Some((true, false)),
            MethodKind::Bidirectional => Some((true, true)),
            MethodKind::NoRequest => None,
        }
    }
}

impl fmt::Display for MethodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in MethodKind::ALL {
            assert_eq!(MethodKind::from_name(k.as_str()), Some(k));
        }
        assert_eq!(MethodKind::from_name("poll"), None);
    }
}
