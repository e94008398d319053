//! The service model: what the emitter needs to know about a service,
//! independent of where it was defined (.proto file or Rust trait).

/// A service: its name, subject parts and methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The service name as declared, e.g. `Greeter`.
    pub name: String,
    /// The fully qualified name, e.g. `helloworld.Greeter`.
    pub full_name: String,
    /// Documentation lines (from proto comments or doc attributes).
    pub docs: Vec<String>,
    /// Package subject prefix (may be empty or contain dots).
    pub package_subject: String,
    /// Package subject parameter names.
    pub package_params: Vec<String>,
    /// Service subject token(s).
    pub service_subject: String,
    /// Service subject parameter names.
    pub service_params: Vec<String>,
    /// Methods in declaration order.
    pub methods: Vec<Method>,
    /// File name (beside the generated file) of an encoded
    /// `FileDescriptorSet` describing the messages, registered at run time
    /// for JSON encoding.
    pub descriptor_set_file: Option<String>,
}

/// A method of a [`Service`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// The method name as declared, e.g. `SayHello`.
    pub name: String,
    /// The Rust method name, e.g. `say_hello`.
    pub rust_name: String,
    /// Documentation lines.
    pub docs: Vec<String>,
    /// Method subject token(s).
    pub subject: String,
    /// Method subject parameter names.
    pub params: Vec<String>,
    /// The request type.
    pub input: MessageType,
    /// The reply type.
    pub output: MessageType,
    /// How the method is called.
    pub kind: MethodKind,
    /// Replies may be collected from every instance.
    pub polling: bool,
}

/// A request or reply type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageType {
    /// `nrpc.Void` (or `google.protobuf.Empty`): `()` in Rust.
    Void,
    /// A message, by its Rust path as seen from the module the service is
    /// generated in (e.g. `HelloRequest`, `super::common::Id`).
    Message(String),
}

/// How a method is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    /// One request, one reply.
    Unary,
    /// Fire-and-forget (`returns (nrpc.NoReply)`).
    NoReply,
    /// Server-published events (`(nrpc.NoRequest)` input).
    NoRequest,
    /// nRPC streamed reply.
    StreamedReply,
    /// Requests stream in, one reply (nrpc extension).
    ClientStreaming,
    /// Requests and replies both stream (nrpc extension).
    Bidirectional,
}

impl MethodKind {
    /// Whether requests stream in from the client.
    pub fn streams_requests(self) -> bool {
        matches!(
            self,
            MethodKind::ClientStreaming | MethodKind::Bidirectional
        )
    }
}
