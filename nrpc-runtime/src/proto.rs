//! The messages of `nrpc/nrpc.proto`, for code generated from protos that
//! import it (nrpc-codegen maps the `.nrpc` package here).

/// An nRPC error reply, sent as `0x00` followed by this message.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Error {
    /// The kind of error, see [`error::Type`].
    #[prost(enumeration = "error::Type", tag = "1")]
    pub r#type: i32,
    /// Human-readable description.
    #[prost(string, tag = "2")]
    pub message: ::prost::alloc::string::String,
    /// For `EOS`: how many stream items were sent.
    #[prost(uint32, tag = "3")]
    pub msg_count: u32,
}

/// Nested types of [`Error`].
pub mod error {
    /// nRPC error kinds.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
    #[repr(i32)]
    pub enum Type {
        /// The request was at fault.
        Client = 0,
        /// The server failed.
        Server = 1,
        /// End of a streamed reply.
        Eos = 3,
        /// The server has no capacity left.
        Servertoobusy = 4,
    }
}

/// The empty message.
#[derive(Clone, Copy, PartialEq, ::prost::Message)]
pub struct Void {}

/// Marks an event method: not callable.
#[derive(Clone, Copy, PartialEq, ::prost::Message)]
pub struct NoRequest {}

/// Marks a fire-and-forget method.
#[derive(Clone, Copy, PartialEq, ::prost::Message)]
pub struct NoReply {}

/// Streamed-reply heartbeat from the client.
#[derive(Clone, Copy, PartialEq, ::prost::Message)]
pub struct HeartBeat {
    /// The client is cancelling the stream.
    #[prost(bool, tag = "1")]
    pub lastbeat: bool,
}

macro_rules! names {
    ($($ty:ident),*) => {$(
        impl ::prost::Name for $ty {
            const NAME: &'static str = stringify!($ty);
            const PACKAGE: &'static str = "nrpc";
        }
    )*};
}
names!(Error, Void, NoRequest, NoReply, HeartBeat);
