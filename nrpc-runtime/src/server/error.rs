//! [`ServeError`]: why a server could not start serving.

use nrpc_wire::InvalidToken;

/// Errors from [`Server::serve`](super::Server::serve).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A subscription was refused.
    #[error("cannot subscribe to {subject}: {source}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// Why.
        source: async_nats::SubscribeError,
    },
    /// The server's permissions deny a subscription the service needs
    /// (detected on connections made by [`connect`](crate::connect())).
    #[error("{0}; a service needs permission to subscribe to its subjects, `_NRPC.>` and `$SRV.>` (see docs/guides/production.md, Permissions)")]
    PermissionDenied(String),
    /// The subject prefix or package subject is not a valid subject.
    #[error("{0}")]
    InvalidSubject(#[from] InvalidToken),
    /// A durable command's stream or consumer could not be made, or its
    /// stream differs from the declaration.
    #[cfg(feature = "jetstream")]
    #[error("durable method {method}: {source}")]
    Durable {
        /// `<service>/<method>`.
        method: String,
        /// Why.
        source: crate::durable::DurableError,
    },
    /// The service has durable methods, and this build has no JetStream
    /// support (feature `jetstream` of nrpc-runtime, on by default).
    #[error("durable method {0} needs nrpc-runtime's feature `jetstream`")]
    NoJetStream(String),
}
