//! The nRPC wire protocol, shared by client and server: subjects
//! ([`subject`]), payload framing and error replies ([`frame`]) and the
//! headers nrpc adds ([`headers`]). `docs/PROTOCOL.md` describes the same
//! rules in prose.

pub mod frame;
pub mod headers;
pub mod stream;
pub mod subject;

pub use frame::{Encoding, ErrorFrame};
pub use subject::{InvalidToken, MethodKind, MethodSpec, ServiceSpec};
