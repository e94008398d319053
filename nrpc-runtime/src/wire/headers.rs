//! Header names on nrpc messages. nRPC itself sets no headers; Go peers
//! ignore these, so they are additive.

/// Remaining time the caller will wait, in whole milliseconds (relative, so
/// clocks need not agree). Set on requests.
pub const TIMEOUT: &str = "Nrpc-Timeout";
/// Exact [`Code`](crate::Code) of an error reply, as its gRPC number.
pub const CODE: &str = "Nrpc-Code";
/// NATS services standard: error description on an error reply.
pub const SERVICE_ERROR: &str = "Nats-Service-Error";
/// NATS services standard: numeric error code on an error reply.
pub const SERVICE_ERROR_CODE: &str = "Nats-Service-Error-Code";
/// The answering server instance's id, on replies to broadcast and direct
/// calls.
pub const INSTANCE: &str = "Nrpc-Instance";
