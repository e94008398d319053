//! Services learned at run time, for tools that speak JSON to any nrpc or
//! nRPC service (the `nrpc` command, a gateway): a [`DynamicService`] from
//! the schema its instances publish or from `.proto` files, its methods'
//! message types, and [`json`] encoding and decoding with errors that name
//! the field. Calls then go through `nrpc_runtime::ServiceClient` with the
//! `Raw` codec.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod json;
mod service;

pub use service::{full_name, pick, split_method, suggest, DynamicService, Message};

/// Why a service, a method or a message could not be used; the text is
/// for the user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No service by that name, or more than one.
    #[error("{0}")]
    UnknownService(String),
    /// No method by that name, or not `SERVICE.METHOD`.
    #[error("{0}")]
    UnknownMethod(String),
    /// The service's instances publish no schema.
    #[error("{0}")]
    NoSchema(String),
    /// A published schema breaks the rules or does not decode.
    #[error("{0}")]
    InvalidSchema(String),
    /// `.proto` files that do not parse, or services they cannot define.
    #[error("{0}")]
    Proto(String),
    /// A request that is not valid JSON for its message.
    #[error("{0}")]
    InvalidJson(String),
    /// A message the definition names but does not describe.
    #[error("{0}")]
    Undescribed(String),
    /// A reply that does not decode as its message.
    #[error("{0}")]
    InvalidReply(String),
    /// The service's instances disagree on where its calls go: another
    /// service claims its name (or a half-finished rollout changed its
    /// subjects); its calls are refused until they agree.
    #[error("{0}")]
    Conflict(String),
    /// Discovery failed (connection closed, …).
    #[error("discovery failed: {0}")]
    Discovery(#[from] nrpc_runtime::CallError),
}

/// A result with an [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
