//! tower middleware around a server's handlers:
//! [`Server::layer`](super::Server::layer) wraps every service's handler,
//! as `tonic::transport::Server::layer` does.
//!
//! The service a layer wraps takes a [`Call`] (method, subject, params,
//! headers, deadline, cancellation) and answers `Result<Reply, Status>`:
//! `Err` is the call's status, a handler's panic included (an `INTERNAL`
//! status), so middleware sees every outcome. A layer's own errors
//! become statuses: a [`Status`] stays itself, tower's timeout
//! `Elapsed` is `DEADLINE_EXCEEDED`, load shedding's `Overloaded` is
//! `UNAVAILABLE`, anything else `INTERNAL`.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use nrpc_wire::{ServiceSpec, Status};
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceExt};

use super::call::{Call, Reply};
use super::handlers::Service;

/// Errors a layer may return; see the [module docs](self) for how they
/// become statuses.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A call's service as layers see it (boxed, cloneable).
pub type CallService = BoxCloneSyncService<Call, Reply, Status>;

/// The layers of a server, composed: turns the handler into what calls go
/// through.
#[derive(Clone)]
pub(super) struct Stack(Arc<dyn Fn(CallService) -> CallService + Send + Sync>);

impl Stack {
    /// The layered service around `inner`.
    pub(super) fn wrap(&self, inner: CallService) -> CallService {
        (self.0)(inner)
    }
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stack(..)")
    }
}

/// Adds `layer` inside the layers of `outer` (the first added is the
/// outermost, as with `tower::ServiceBuilder`).
pub(super) fn push<L>(outer: Option<Stack>, layer: L) -> Stack
where
    L: Layer<CallService> + Send + Sync + 'static,
    L::Service: tower::Service<Call, Response = Reply> + Clone + Send + Sync + 'static,
    <L::Service as tower::Service<Call>>::Error: Into<BoxError>,
    <L::Service as tower::Service<Call>>::Future: Send + 'static,
{
    Stack(Arc::new(move |inner| {
        let wrapped = CallService::new(
            layer
                .layer(inner)
                .map_err(|e: <L::Service as tower::Service<Call>>::Error| to_status(e.into())),
        );
        match &outer {
            Some(outer) => outer.wrap(wrapped),
            None => wrapped,
        }
    }))
}

/// The status for a layer's error.
pub fn to_status(error: BoxError) -> Status {
    let error = match error.downcast::<Status>() {
        Ok(status) => return *status,
        Err(e) => e,
    };
    if error.is::<tower::timeout::error::Elapsed>() {
        Status::deadline_exceeded("the server's time limit for the call passed")
    } else if error.is::<tower::load_shed::error::Overloaded>() {
        Status::unavailable("server too busy")
    } else {
        Status::internal(error.to_string())
    }
}

/// What a panicking handler's caller is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum PanicReply {
    /// `INTERNAL: handler panicked`; the message is only logged.
    #[default]
    Hidden,
    /// `INTERNAL: handler panicked: <message>`.
    WithMessage,
}

/// Runs the handler of the call's method; a panic, in the generated
/// adapter or in the handler's future, is an `INTERNAL` status (logged
/// with its message).
pub(super) fn run(service: &dyn Service, call: Call, panics: PanicReply) -> Running {
    let spec = service.spec();
    let method = call.context.method;
    let handler = std::panic::catch_unwind(AssertUnwindSafe(|| service.call(method, call)))
        .unwrap_or_else(|panic| {
            let status = panicked(&spec.name, &spec.methods[method].name, &*panic, panics);
            Box::pin(std::future::ready(Err(status)))
        });
    Running {
        handler,
        spec,
        method,
        panics,
    }
}

/// A handler's future that turns its panic into a status. `Unpin`, so the
/// server can poll it once where the request arrived and move it into a
/// task only if it is still pending.
pub(super) struct Running {
    handler: BoxFuture<'static, Result<Reply, Status>>,
    spec: &'static ServiceSpec,
    method: usize,
    panics: PanicReply,
}

impl Future for Running {
    type Output = Result<Reply, Status>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        match std::panic::catch_unwind(AssertUnwindSafe(|| this.handler.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => {
                let (spec, method) = (this.spec, this.method);
                let name = &spec.methods[method].name;
                Poll::Ready(Err(panicked(&spec.name, name, &*panic, this.panics)))
            }
        }
    }
}

/// The status of a panic, logged with the panic's message.
pub(crate) fn panicked(
    service: &str,
    method: &str,
    panic: &(dyn Any + Send),
    reply: PanicReply,
) -> Status {
    let message = panic_message(panic);
    tracing::error!(
        rpc.service = service,
        rpc.method = method,
        "nrpc: handler panicked: {message}"
    );
    match reply {
        PanicReply::Hidden => Status::internal("handler panicked"),
        PanicReply::WithMessage => Status::internal(format!("handler panicked: {message}")),
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}

/// The innermost service of a layered server: the handlers.
#[derive(Clone)]
pub(super) struct Handlers {
    pub(super) service: Arc<dyn Service>,
    pub(super) panics: PanicReply,
}

impl tower::Service<Call> for Handlers {
    type Response = Reply;
    type Error = Status;
    type Future = Running;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: Call) -> Self::Future {
        run(&*self.service, call, self.panics)
    }
}
