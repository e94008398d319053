//! What a received call is before and after its handler runs: the
//! handler's [`Request`], the opaque [`Call`] a generated adapter gets, and
//! the [`Reply`] it gives back.

use async_nats::{HeaderMap, Subject};
use bytes::Bytes;
use futures::future::BoxFuture;
use nrpc_wire::{Encoding, MethodKind, ServiceSpec, Status};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::codec::Codec;

/// A request as a handler sees it: the message, its metadata headers, the
/// subject parameters, the deadline and a cancellation token.
#[derive(Debug)]
pub struct Request<T> {
    pub(super) message: T,
    pub(super) context: Context,
}

/// Everything about a request except its message.
#[derive(Debug, Clone)]
pub(super) struct Context {
    pub(super) subject: Subject,
    pub(super) metadata: HeaderMap,
    pub(super) spec: &'static ServiceSpec,
    pub(super) method: usize,
    pub(super) params: Vec<String>,
    pub(super) deadline: Option<Instant>,
    pub(super) cancel: CancellationToken,
    pub(super) encoding: Encoding,
}

impl<T> Request<T> {
    /// A request that did not arrive over NATS (the same handler served
    /// over gRPC): method `method` of `spec`, with these headers, subject
    /// parameter values (in [`ServiceSpec::param_names`] order), deadline
    /// and cancellation token.
    #[cfg(feature = "grpc")]
    pub(crate) fn local(
        message: T,
        spec: &'static ServiceSpec,
        method: usize,
        metadata: HeaderMap,
        params: Vec<String>,
        deadline: Option<Instant>,
        cancel: CancellationToken,
    ) -> Self {
        Request {
            message,
            context: Context {
                subject: Subject::from_static(""),
                metadata,
                spec,
                method,
                params,
                deadline,
                cancel,
                encoding: Encoding::Protobuf,
            },
        }
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// The message, consuming the request.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// The caller's metadata headers.
    pub fn metadata(&self) -> &HeaderMap {
        &self.context.metadata
    }

    /// The caller a gateway verified (its JWT's subject and scopes, or its
    /// API key's), if the call came through one that authenticates; see
    /// [`nrpc_wire::caller`] for what to trust it for.
    pub fn caller(&self) -> Option<nrpc_wire::caller::Caller> {
        let value = self.context.metadata.get(nrpc_wire::caller::HEADER)?;
        nrpc_wire::caller::Caller::from_header(value.as_str())
    }

    /// For a durable command, which delivery of it this is: 1 for the
    /// first, more when an earlier attempt failed or its instance was lost.
    /// `None` for any other call.
    pub fn delivered(&self) -> Option<u64> {
        let value = self
            .context
            .metadata
            .get(nrpc_wire::durable::DELIVERED_HEADER)?;
        value.as_str().parse().ok()
    }

    /// The value of the subject parameter `name` (package, service or method
    /// parameter), as the caller sent it.
    pub fn param(&self, name: &str) -> Option<&str> {
        let ctx = &self.context;
        ctx.spec
            .param_names(ctx.method)
            .position(|n| n == name)
            .and_then(|i| ctx.params.get(i))
            .map(String::as_str)
    }

    /// The name of the method being called.
    pub fn method(&self) -> &'static str {
        &self.context.spec.methods[self.context.method].name
    }

    /// When the caller stops waiting, if it said (nrpc clients do; Go nRPC
    /// clients do not). The handler is dropped at that instant.
    pub fn deadline(&self) -> Option<Instant> {
        self.context.deadline
    }

    /// Fires when the caller has given up (deadline passed) or the server
    /// abandons the request; hand it to work spawned outside the handler.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.context.cancel
    }

    /// The encoding the caller used.
    pub fn encoding(&self) -> Encoding {
        self.context.encoding
    }

    /// The caller's id for this call (`Nrpc-Request-Id`; nrpc clients
    /// always send one, Go nRPC clients do not).
    pub fn request_id(&self) -> Option<&str> {
        crate::observe::request_id_of(&self.context.metadata)
    }
}

/// A received call, before its message is decoded; what a
/// [`Service`](super::Service) and the server's
/// [layers](super::Server::layer) get. Generated adapters hand it to the
/// runtime function of the method's call kind; middleware reads (and may
/// change) its headers.
#[derive(Debug)]
pub struct Call {
    pub(super) payload: Bytes,
    pub(super) context: Context,
    /// Set for stream methods.
    pub(super) stream: Option<StreamContext>,
}

impl Call {
    /// The full name of the service, e.g. `greeter.v1.Greeter`.
    pub fn service(&self) -> &'static str {
        &self.context.spec.name
    }

    /// The name of the method being called, e.g. `SayHello`.
    pub fn method(&self) -> &'static str {
        &self.context.spec.methods[self.context.method].name
    }

    /// The method's call kind.
    pub fn kind(&self) -> MethodKind {
        self.context.spec.methods[self.context.method].kind
    }

    /// The subject the request arrived on.
    pub fn subject(&self) -> &str {
        &self.context.subject
    }

    /// The subject parameters as `(name, value)` pairs: package, service,
    /// then method parameters.
    pub fn params(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        let ctx = &self.context;
        ctx.spec
            .param_names(ctx.method)
            .zip(ctx.params.iter().map(String::as_str))
    }

    /// The caller's metadata headers.
    pub fn metadata(&self) -> &HeaderMap {
        &self.context.metadata
    }

    /// The metadata headers, for middleware that adds or removes some
    /// before the handler sees them.
    pub fn metadata_mut(&mut self) -> &mut HeaderMap {
        &mut self.context.metadata
    }

    /// When the caller stops waiting, if it said.
    pub fn deadline(&self) -> Option<Instant> {
        self.context.deadline
    }

    /// Fires when the call is abandoned (deadline, caller cancelled).
    pub fn cancellation(&self) -> &CancellationToken {
        &self.context.cancel
    }

    /// The encoding the caller used.
    pub fn encoding(&self) -> Encoding {
        self.context.encoding
    }

    /// The caller's id for this call (`Nrpc-Request-Id`), if it sent one.
    pub fn request_id(&self) -> Option<&str> {
        crate::observe::request_id_of(&self.context.metadata)
    }

    /// The size of the encoded request in bytes (the opening request for
    /// streams).
    pub fn payload_len(&self) -> usize {
        self.payload.len()
    }
}

/// What the receive loop prepared for a stream call: the subscriptions it
/// made and the client's flow-control offer.
#[derive(Debug)]
pub(super) struct StreamContext {
    pub(super) nats: async_nats::Client,
    pub(super) reply: Subject,
    pub(super) heartbeats: async_nats::Subscriber,
    /// What the client's request offers: credit, and how to frame items.
    pub(super) opening: nrpc_wire::stream::Opening,
    /// For client-streaming and bidi calls: where the client's items arrive.
    pub(super) input: Option<async_nats::Subscriber>,
}

/// An encoded reply with metadata headers; what a [`Service`](super::Service)
/// gives back. Middleware may read and change its headers.
#[derive(Debug)]
pub struct Reply {
    pub(super) payload: Bytes,
    pub(super) metadata: HeaderMap,
    /// The call kind's function answered already (streams).
    pub(super) sent: bool,
}

impl Reply {
    /// The reply's metadata headers (none for streams, which have sent
    /// their items already).
    pub fn metadata(&self) -> &HeaderMap {
        &self.metadata
    }

    /// The metadata headers, for middleware that adds some.
    pub fn metadata_mut(&mut self) -> &mut HeaderMap {
        &mut self.metadata
    }

    /// The size of the encoded reply in bytes (0 for streams).
    pub fn payload_len(&self) -> usize {
        self.payload.len()
    }

    pub(super) fn new(payload: Bytes, metadata: HeaderMap) -> Self {
        Self {
            payload,
            metadata,
            sent: false,
        }
    }

    pub(super) fn already_sent() -> Self {
        Self {
            payload: Bytes::new(),
            metadata: HeaderMap::new(),
            sent: true,
        }
    }
}

/// The future of a call's outcome.
pub(super) type Outcome = BoxFuture<'static, Result<Reply, Status>>;

/// A call that has failed before its handler ran.
pub(super) fn failed(status: Status) -> Outcome {
    Box::pin(std::future::ready(Err(status)))
}

/// The request a handler gets; an undecodable payload is nRPC's CLIENT
/// "bad request" error.
pub(super) fn decode_request<Req: Codec>(
    payload: Bytes,
    context: Context,
) -> Result<Request<Req::Item>, Status> {
    let message = Req::decode(payload, context.encoding)
        .map_err(|e| Status::invalid_argument(format!("{UNDECODABLE}: {e}")))?;
    Ok(Request { message, context })
}

/// How the status of a request that does not decode begins.
const UNDECODABLE: &str = "bad request received";

/// Whether `status` says the request did not decode (the handler never
/// ran): a durable command's dead letter then says `decode`.
#[cfg(feature = "jetstream")]
pub(super) fn is_undecodable(status: &Status) -> bool {
    status.code() == nrpc_wire::Code::InvalidArgument && status.message().starts_with(UNDECODABLE)
}
