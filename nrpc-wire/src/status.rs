//! The error a handler returns and a caller receives: [`Status`] and [`Code`].

use std::fmt;

use crate::ErrorType;

/// What went wrong, in the vocabulary of gRPC status codes.
///
/// Each code maps onto an nRPC error type on the wire (see
/// [`Code::nrpc_type`]) and onto a number for the NATS services header
/// `Nats-Service-Error-Code` (see [`Code::service_error_code`]); the exact
/// code travels in the `Nrpc-Code` header so nrpc peers see it unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// The operation was cancelled, typically by the caller.
    Cancelled,
    /// An error the server could not classify (any nRPC `SERVER` error).
    Unknown,
    /// The request is malformed or has invalid arguments (nRPC `CLIENT`).
    InvalidArgument,
    /// The deadline expired before the operation could complete.
    DeadlineExceeded,
    /// A requested entity was not found.
    NotFound,
    /// The entity the caller tried to create already exists.
    AlreadyExists,
    /// The caller may not perform this operation.
    PermissionDenied,
    /// A quota or limit has been exhausted.
    ResourceExhausted,
    /// The system is not in a state required for the operation.
    FailedPrecondition,
    /// The operation was aborted, e.g. by a concurrency conflict.
    Aborted,
    /// The operation was attempted past the valid range.
    OutOfRange,
    /// The method is not implemented or not known by the server.
    Unimplemented,
    /// An invariant of the server is broken (e.g. a handler panicked).
    Internal,
    /// The service cannot take the request now (nRPC `SERVERTOOBUSY`).
    Unavailable,
    /// Unrecoverable data loss or corruption.
    DataLoss,
    /// The caller is not authenticated.
    Unauthenticated,
}

const ALL_CODES: [Code; 16] = [
    Code::Cancelled,
    Code::Unknown,
    Code::InvalidArgument,
    Code::DeadlineExceeded,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::Unimplemented,
    Code::Internal,
    Code::Unavailable,
    Code::DataLoss,
    Code::Unauthenticated,
];

impl Code {
    /// The gRPC number of this code (1 = CANCELLED … 16 = UNAUTHENTICATED).
    pub fn as_i32(self) -> i32 {
        match self {
            Code::Cancelled => 1,
            Code::Unknown => 2,
            Code::InvalidArgument => 3,
            Code::DeadlineExceeded => 4,
            Code::NotFound => 5,
            Code::AlreadyExists => 6,
            Code::PermissionDenied => 7,
            Code::ResourceExhausted => 8,
            Code::FailedPrecondition => 9,
            Code::Aborted => 10,
            Code::OutOfRange => 11,
            Code::Unimplemented => 12,
            Code::Internal => 13,
            Code::Unavailable => 14,
            Code::DataLoss => 15,
            Code::Unauthenticated => 16,
        }
    }

    /// The code for a gRPC number, if it names one (0, OK, is not an error).
    pub fn from_i32(v: i32) -> Option<Code> {
        ALL_CODES.into_iter().find(|c| c.as_i32() == v)
    }

    /// The nRPC error type that carries this code to peers that only know nRPC.
    pub fn nrpc_type(self) -> ErrorType {
        match self {
            Code::Cancelled
            | Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unimplemented
            | Code::Unauthenticated => ErrorType::Client,
            Code::Unavailable | Code::ResourceExhausted => ErrorType::ServerTooBusy,
            Code::Unknown
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::Internal
            | Code::DataLoss => ErrorType::Server,
        }
    }

    /// The code a bare nRPC error type stands for (a Go peer sends no code).
    pub fn from_nrpc_type(t: ErrorType) -> Code {
        match t {
            ErrorType::Client => Code::InvalidArgument,
            ErrorType::ServerTooBusy => Code::Unavailable,
            ErrorType::Server | ErrorType::Eos => Code::Unknown,
        }
    }

    /// The HTTP-style number sent in `Nats-Service-Error-Code`, as the NATS
    /// services tooling expects.
    pub fn service_error_code(self) -> u16 {
        match self {
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
            Code::Unauthenticated => 401,
            Code::PermissionDenied => 403,
            Code::NotFound => 404,
            Code::AlreadyExists | Code::Aborted => 409,
            Code::ResourceExhausted => 429,
            Code::Cancelled => 499,
            Code::Unknown | Code::Internal | Code::DataLoss => 500,
            Code::Unimplemented => 501,
            Code::Unavailable => 503,
            Code::DeadlineExceeded => 504,
        }
    }

    /// The canonical upper-case name, e.g. `INVALID_ARGUMENT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RPC error: a [`Code`] and a message.
///
/// Handlers return it; a client receives it as
/// `CallError::Status` when the remote side answered with an error.
///
/// ```
/// use nrpc_wire::{Code, Status};
/// let status = Status::not_found("no user 42");
/// assert_eq!(status.code(), Code::NotFound);
/// assert_eq!(status.to_string(), "NOT_FOUND: no user 42");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    code: Code,
    message: String,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<String>) -> Self {
                Self::new(Code::$code, message)
            }
        )*
    };
}

impl Status {
    /// A status with the given code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    constructors! {
        /// A [`Code::Cancelled`] status.
        cancelled => Cancelled,
        /// A [`Code::Unknown`] status.
        unknown => Unknown,
        /// A [`Code::InvalidArgument`] status.
        invalid_argument => InvalidArgument,
        /// A [`Code::DeadlineExceeded`] status.
        deadline_exceeded => DeadlineExceeded,
        /// A [`Code::NotFound`] status.
        not_found => NotFound,
        /// A [`Code::AlreadyExists`] status.
        already_exists => AlreadyExists,
        /// A [`Code::PermissionDenied`] status.
        permission_denied => PermissionDenied,
        /// A [`Code::ResourceExhausted`] status.
        resource_exhausted => ResourceExhausted,
        /// A [`Code::FailedPrecondition`] status.
        failed_precondition => FailedPrecondition,
        /// A [`Code::Aborted`] status.
        aborted => Aborted,
        /// A [`Code::OutOfRange`] status.
        out_of_range => OutOfRange,
        /// A [`Code::Unimplemented`] status.
        unimplemented => Unimplemented,
        /// A [`Code::Internal`] status.
        internal => Internal,
        /// A [`Code::Unavailable`] status.
        unavailable => Unavailable,
        /// A [`Code::DataLoss`] status.
        data_loss => DataLoss,
        /// A [`Code::Unauthenticated`] status.
        unauthenticated => Unauthenticated,
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Status {}

/// The same code and message as tonic's status (feature `tonic`).
#[cfg(feature = "tonic")]
impl From<Status> for tonic::Status {
    fn from(status: Status) -> tonic::Status {
        tonic::Status::new(
            tonic::Code::from_i32(status.code().as_i32()),
            status.message,
        )
    }
}

/// The same code and message as nrpc's status (feature `tonic`).
#[cfg(feature = "tonic")]
impl From<&tonic::Status> for Status {
    fn from(status: &tonic::Status) -> Status {
        let code = Code::from_i32(status.code() as i32).unwrap_or(Code::Unknown);
        Status::new(code, status.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_numbers_round_trip() {
        for code in ALL_CODES {
            assert_eq!(Code::from_i32(code.as_i32()), Some(code));
        }
        assert_eq!(Code::from_i32(0), None);
        assert_eq!(Code::from_i32(17), None);
    }

    #[test]
    fn nrpc_types_map_to_codes_that_map_back() {
        for t in [
            ErrorType::Client,
            ErrorType::Server,
            ErrorType::ServerTooBusy,
        ] {
            assert_eq!(Code::from_nrpc_type(t).nrpc_type(), t);
        }
    }
}
