//! The [`Service`] trait generated adapters implement, and the runtime
//! functions they call for request/reply and fire-and-forget methods (the
//! stream kinds are in `stream.rs`).

use std::future::Future;

use async_nats::HeaderMap;
use bytes::Bytes;
use futures::future::BoxFuture;
use nrpc_wire::{ServiceSpec, Status};

use super::call::{decode_request, failed, Call, Outcome, Reply, Request};
use crate::codec::Codec;
use crate::schema::Description;
use crate::Response;

/// A service the [`Server`](super::Server) can serve; implemented by
/// generated `XServer<T>` adapters.
pub trait Service: Send + Sync + 'static {
    /// The service's subjects and methods.
    fn spec(&self) -> &'static ServiceSpec;

    /// Handles a call of method number `method` of [`spec`](Self::spec).
    fn call(&self, method: usize, call: Call) -> BoxFuture<'static, Result<Reply, Status>>;

    /// Documentation and message types for the schema the server
    /// publishes ([`crate::schema`]); generated adapters provide it.
    /// Without it the schema still has the subjects and kinds, and the
    /// message types if the service's descriptor is registered.
    fn describe(&self) -> Option<Description> {
        None
    }
}

/// Decodes a unary call, runs `handler` and encodes its reply.
pub fn unary<Req, Resp, F, Fut>(call: Call, handler: F) -> Outcome
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
        let response = handler(request).await?;
        if let Some(bad) = response.invalid_header() {
            return Err(Status::internal(format!(
                "the handler's reply has an {bad}"
            )));
        }
        let (message, metadata) = response.into_parts();
        let payload = Resp::encode(&message, encoding)?;
        Ok(Reply::new(payload, metadata))
    })
}

/// Decodes a fire-and-forget call (nRPC `NoReply`) and runs `handler`.
/// The server never answers it; errors are only logged and counted.
pub fn no_reply<Req, F, Fut>(call: Call, handler: F) -> Outcome
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

/// Answers a call of a method this server does not serve (an event
/// method, which is not callable).
pub fn unimplemented(call: Call) -> Outcome {
    let ctx = &call.context;
    let name = ctx.spec.methods.get(ctx.method).map_or("?", |m| &*m.name);
    failed(Status::unimplemented(format!(
        "method {name} is not served by this server"
    )))
}
