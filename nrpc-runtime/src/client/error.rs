//! [`CallError`]: why a call failed, and its status code.

use std::time::Duration;

use nrpc_wire::{Code, InvalidToken, Status};

use crate::codec::DecodeError;

/// Why a call failed.
///
/// [`Status`](CallError::Status) is an answer from the server; every other
/// variant is the client's own observation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The server answered with an error.
    #[error("{0}")]
    Status(Status),
    /// No reply arrived within the call's timeout.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// Nobody subscribes to the subject (reported by the NATS server at once).
    #[error("no responders on {subject}")]
    NoResponders {
        /// The request subject.
        subject: String,
    },
    /// The request is larger than the server's `max_payload`; nothing was sent.
    #[error("request of {size} bytes exceeds the server's max_payload of {max} bytes")]
    PayloadTooLarge {
        /// Encoded size of payload and headers.
        size: usize,
        /// The NATS server's limit.
        max: usize,
    },
    /// A subject parameter would change the subject's meaning; nothing was sent.
    #[error(transparent)]
    InvalidSubject(#[from] InvalidToken),
    /// The request could not be encoded.
    #[error("request encoding failed: {0}")]
    Encode(Status),
    /// The reply could not be decoded (or broke the protocol); the
    /// decoder's error is the source.
    #[error("undecodable reply: {0}")]
    Decode(#[source] DecodeError),
    /// The NATS connection is closed.
    #[error("connection closed")]
    Closed,
    /// The NATS connection is down (reconnecting); the request was not
    /// sent. Retry later, or opt into waiting with
    /// [`CallOptions::wait_for_ready`](super::CallOptions::wait_for_ready).
    #[error("the NATS connection is down; the request was not sent")]
    NotConnected,
    /// The NATS connection dropped after the request was sent and before
    /// its reply arrived: the server may or may not have handled it.
    #[error("the NATS connection dropped while waiting for the reply; the outcome is unknown")]
    ConnectionLost,
    /// Stream items were lost on the way (the peer had sent more than
    /// arrived, e.g. across a broker restart); the stream ended at once.
    #[error("stream items were lost: {sent} sent, {arrived} arrived")]
    DataLoss {
        /// Items that arrived.
        arrived: u64,
        /// Items the peer says it sent.
        sent: u64,
    },
    /// A metadata header name or value is not valid in NATS headers (a
    /// name with spaces, `:` or non-ASCII; a value with CR or LF); nothing
    /// was sent.
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    /// A peer without flow control (e.g. a Go nRPC server) sent stream items
    /// faster than they were read; the call was ended rather than buffer
    /// without bound.
    #[error("replies arrived faster than they were read; the call was ended")]
    Overrun,
    /// The service has no method of this index (a tool's mistake; generated
    /// clients never make it); nothing was sent.
    #[error("the service has no method number {index}")]
    UnknownMethod {
        /// The index asked for.
        index: usize,
    },
    /// A durable publish failed (feature `jetstream`): not stored, or not
    /// known to be; publishing again with the same message id is safe.
    #[cfg(feature = "jetstream")]
    #[error(transparent)]
    Durable(crate::durable::DurableError),
}

impl CallError {
    /// The status code that best describes the failure, as gRPC clients
    /// report transport failures: the server's code for
    /// [`Status`](Self::Status), `DEADLINE_EXCEEDED` for a timeout,
    /// `UNAVAILABLE` when the call could not reach a server or its answer
    /// could not come back, `INVALID_ARGUMENT` for calls refused before
    /// sending, `RESOURCE_EXHAUSTED` for sizes, `DATA_LOSS`, `INTERNAL`
    /// for undecodable replies.
    pub fn code(&self) -> Code {
        match self {
            CallError::Status(s) => s.code(),
            CallError::Timeout(_) => Code::DeadlineExceeded,
            CallError::NoResponders { .. }
            | CallError::Closed
            | CallError::NotConnected
            | CallError::ConnectionLost => Code::Unavailable,
            CallError::PayloadTooLarge { .. } | CallError::Overrun => Code::ResourceExhausted,
            CallError::InvalidSubject(_) | CallError::InvalidHeader(_) | CallError::Encode(_) => {
                Code::InvalidArgument
            }
            CallError::Decode(_) => Code::Internal,
            CallError::DataLoss { .. } => Code::DataLoss,
            CallError::UnknownMethod { .. } => Code::Unimplemented,
            #[cfg(feature = "jetstream")]
            CallError::Durable(e) => e.code(),
        }
    }

    /// Whether the call timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, CallError::Timeout(_))
    }

    /// The remote status, if the server answered with an error.
    pub fn status(&self) -> Option<&Status> {
        match self {
            CallError::Status(s) => Some(s),
            _ => None,
        }
    }
}

impl From<CallError> for Status {
    /// Lets a handler that calls another service use `?`.
    fn from(e: CallError) -> Status {
        match e {
            CallError::Status(s) => s,
            CallError::Timeout(_) => Status::deadline_exceeded(e.to_string()),
            CallError::NoResponders { .. }
            | CallError::Closed
            | CallError::NotConnected
            | CallError::ConnectionLost => Status::unavailable(e.to_string()),
            CallError::InvalidHeader(_) => Status::internal(e.to_string()),
            CallError::DataLoss { .. } => Status::data_loss(e.to_string()),
            CallError::PayloadTooLarge { .. } | CallError::Overrun => {
                Status::resource_exhausted(e.to_string())
            }
            CallError::InvalidSubject(_) => Status::invalid_argument(e.to_string()),
            CallError::Encode(s) => s,
            CallError::Decode(_) => Status::internal(e.to_string()),
            CallError::UnknownMethod { .. } => Status::unimplemented(e.to_string()),
            #[cfg(feature = "jetstream")]
            CallError::Durable(ref d) => Status::new(d.code(), e.to_string()),
        }
    }
}

#[cfg(feature = "jetstream")]
impl CallError {
    /// A durable publish's failure; a timeout is the call's timeout.
    pub(crate) fn durable(e: crate::durable::DurableError) -> Self {
        match e {
            crate::durable::DurableError::Timeout(d) => CallError::Timeout(d),
            e => CallError::Durable(e),
        }
    }
}
