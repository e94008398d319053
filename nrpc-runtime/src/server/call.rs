//! What generated adapters and handlers see of a call: [`Request`],
//! [`Call`], [`Reply`], the [`Service`] trait and one function per call kind.

use std::future::Future;

use async_nats::HeaderMap;
use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::Response;
use crate::codec::Codec;
use crate::status::Status;
use crate::wire::{Encoding, ServiceSpec};

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
    pub(super) metadata: HeaderMap,
    pub(super) spec: &'static ServiceSpec,
    pub(super) method: usize,
    pub(super) params: Vec<String>,
    pub(super) deadline: Option<Instant>,
    pub(super) cancel: CancellationToken,
    pub(super) encoding: Encoding,
}

impl<T> Request<T> {
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
        self.context.spec.methods[self.context.method].name
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
}

/// A received call, before its message is decoded. Generated code passes
/// it to [`unary`].
pub struct Call {
    pub(super) payload: Bytes,
    pub(super) context: Context,
    /// Set for streamed-reply methods.
    pub(super) stream: Option<super::stream::StreamContext>,
}

/// An encoded reply with metadata headers.
pub struct Reply {
    pub(super) payload: Bytes,
    pub(super) metadata: HeaderMap,
    /// The call kind's function answered already (streams).
    pub(super) sent: bool,
}

impl Reply {
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

/// A service the [`Server`](super::Server) can serve; implemented by generated adapters.
pub trait Service: Send + Sync + 'static {
    /// The service's subjects and methods.
    fn spec(&self) -> &'static ServiceSpec;

    /// Handles a call of method number `method` of [`spec`](Self::spec).
    fn call(&self, method: usize, call: Call) -> BoxFuture<'static, Result<Reply, Status>>;
}

/// Decodes a unary call, runs `handler` and encodes its reply. Used by
/// generated adapters.
pub fn unary<Req, Resp, F, Fut>(call: Call, handler: F) -> BoxFuture<'static, Result<Reply, Status>>
where
    Req: Codec,
    Resp: Codec,
    F: FnOnce(Request<Req::Item>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Resp::Item>, Status>> + Send + 'static,
{
    let encoding = call.context.encoding;
    let request = match decode_request::<Req>(call.payload, call.context) {
        Ok(r) => r,
        Err(status) => return failed(status),
    };
    Box::pin(async move {
        let (message, metadata) = handler(request).await?.into_parts();
        let payload = Resp::encode(&message, encoding)?;
        Ok(Reply::new(payload, metadata))
    })
}

/// Answers a call of a method this server does not implement (a call
/// kind the generated adapter does not serve).
pub fn unimplemented(call: Call) -> BoxFuture<'static, Result<Reply, Status>> {
    let ctx = &call.context;
    let name = ctx.spec.methods.get(ctx.method).map_or("?", |m| m.name);
    failed(Status::unimplemented(format!(
        "method {name} is not served by this server"
    )))
}

/// A call that has failed before its handler ran.
pub(super) fn failed(status: Status) -> BoxFuture<'static, Result<Reply, Status>> {
    Box::pin(std::future::ready(Err(status)))
}

/// The request a handler gets; an undecodable payload is nRPC's CLIENT
/// "bad request" error.
pub(super) fn decode_request<Req: Codec>(
    payload: Bytes,
    context: Context,
) -> Result<Request<Req::Item>, Status> {
    let message = Req::decode(payload, context.encoding)
        .map_err(|e| Status::invalid_argument(format!("bad request received: {e}")))?;
    Ok(Request { message, context })
}

/// Decodes a fire-and-forget call (nRPC `NoReply`) and runs `handler`.
/// The server never answers it; errors are only logged and counted.
pub fn no_reply<Req, F, Fut>(call: Call, handler: F) -> BoxFuture<'static, Result<Reply, Status>>
where
    Req: Codec,
    F: FnOnce(Request<Req::Item>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let request = match decode_request::<Req>(call.payload, call.context) {
        Ok(r) => r,
        Err(status) => return failed(status),
    };
    Box::pin(async move {
        handler(request).await?;
        Ok(Reply::new(Bytes::new(), HeaderMap::new()))
    })
}
