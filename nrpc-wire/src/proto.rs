//! The messages of `nrpc/nrpc.proto`, written out by hand (the runtime
//! re-exports them as `nrpc_runtime::proto`, where generated code maps the
//! `.nrpc` package).

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
    /// nRPC error kinds: the `type` of an [`Error`](super::Error) frame.
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
        ServerTooBusy = 4,
    }

    impl Type {
        /// The type for a wire value; unknown values count as `SERVER`.
        pub fn from_wire(v: i32) -> Self {
            Self::try_from(v).unwrap_or(Self::Server)
        }

        /// The enum value name used by the protobuf JSON mapping.
        pub fn as_str(self) -> &'static str {
            match self {
                Self::Client => "CLIENT",
                Self::Server => "SERVER",
                Self::Eos => "EOS",
                Self::ServerTooBusy => "SERVERTOOBUSY",
            }
        }

        /// The type for a JSON enum name; unknown names count as `SERVER`.
        pub fn from_name(name: &str) -> Self {
            [Self::Client, Self::Eos, Self::ServerTooBusy]
                .into_iter()
                .find(|t| t.as_str() == name)
                .unwrap_or(Self::Server)
        }
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
