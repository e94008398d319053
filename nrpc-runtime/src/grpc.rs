//! One implementation served over gRPC (tonic) as well as NATS: what the
//! glue that `nrpc-codegen` generates with `.grpc(true)` calls. Each
//! function takes a tonic request, makes the handler's [`Request`] of it and
//! turns the handler's answer into tonic's:
//!
//! * metadata → the request's headers, in canonical case (`x-tenant` →
//!   `X-Tenant`), as a NATS caller would send them; gRPC's own headers stay
//!   behind; reply headers → response metadata;
//! * `grpc-timeout` → the request's [`deadline`](Request::deadline), which
//!   ends the handler as on NATS (`DEADLINE_EXCEEDED`);
//! * `nrpc-param-<name>` metadata → subject parameters;
//! * a gRPC call that ends early (the client cancels, its deadline passes)
//!   fires the handler's [cancellation token](Request::cancellation) and
//!   drops it;
//! * [`Status`] ↔ `tonic::Status`: the same codes and message; a panic is
//!   `INTERNAL`, as on NATS.
//!
//! The rules for headers and deadlines are `nrpc_wire::grpc`'s, the ones
//! the gateway uses. Server layers (tower middleware) apply to NATS calls
//! only.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::stream::{BoxStream, StreamExt};
use futures::FutureExt;
use nrpc_wire::grpc::{subject_params, Incoming};
use nrpc_wire::{ServiceSpec, Status};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::server::layer::{panicked, PanicReply};
use crate::server::{Request, Sink, Streaming};
use crate::{HeaderMap, Response};

/// The protobuf codec of tonic's generated code (so a service crate needs
/// no `tonic-prost` of its own).
pub use tonic_prost::ProstCodec;

/// Replies of a streaming method as tonic serves them.
pub type ReplyStream<T> = BoxStream<'static, Result<T, tonic::Status>>;

/// How many replies a streaming handler may send ahead of the gRPC client.
const WINDOW: usize = 32;

/// The handler's request, and a guard that fires its cancellation token if
/// the gRPC call is dropped before it ends.
fn incoming<T>(
    spec: &'static ServiceSpec,
    method: usize,
    request: tonic::Request<T>,
) -> Result<(Request<T>, DropGuard), tonic::Status> {
    let (metadata, _, message) = request.into_parts();
    let metadata = metadata.into_headers();
    let sorted = Incoming::sort(
        metadata
            .iter()
            .map(|(name, value)| (name.as_str(), value.to_str().ok())),
    )
    .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
    let deadline = sorted.timeout.and_then(|t| Instant::now().checked_add(t));
    let mut headers = HeaderMap::new();
    for (name, value) in &sorted.metadata {
        headers.append(name.as_str(), value.as_str());
    }
    let params = subject_params(spec, method, Vec::new(), sorted.params)
        .map_err(|e| tonic::Status::invalid_argument(e.bridged()))?;
    let cancel = CancellationToken::new();
    let guard = cancel.clone().drop_guard();
    let request = Request::local(message, spec, method, headers, params, deadline, cancel);
    Ok((request, guard))
}

/// Runs a handler's future until its deadline (then fires its
/// cancellation token and drops it), a panic turned into a status.
async fn run<R>(
    spec: &'static ServiceSpec,
    method: usize,
    deadline: Option<Instant>,
    cancel: CancellationToken,
    handler: impl Future<Output = Result<R, Status>>,
) -> Result<R, Status> {
    let caught = AssertUnwindSafe(handler).catch_unwind();
    let outcome = match deadline {
        Some(at) => match tokio::time::timeout_at(at, caught).await {
            Ok(outcome) => outcome,
            Err(_) => {
                cancel.cancel();
                return Err(Status::deadline_exceeded("the deadline passed"));
            }
        },
        None => caught.await,
    };
    outcome.unwrap_or_else(|panic| {
        let (service, name) = (&spec.name, &spec.methods[method].name);
        Err(panicked(service, name, &*panic, PanicReply::Hidden))
    })
}

/// A handler's reply as tonic's, its headers as metadata (names and values
/// gRPC cannot carry are left out).
fn outgoing<T>(response: Response<T>) -> tonic::Response<T> {
    let (message, headers) = response.into_parts();
    let mut reply = tonic::Response::new(message);
    let metadata = reply.metadata_mut();
    for (name, values) in headers.iter() {
        let lower = AsRef::<str>::as_ref(name).to_ascii_lowercase();
        let Ok(key) = tonic::metadata::AsciiMetadataKey::from_bytes(lower.as_bytes()) else {
            continue;
        };
        for value in values {
            if let Ok(value) = value.as_str().parse() {
                metadata.append(key.clone(), value);
            }
        }
    }
    reply
}

/// A request stream from the gRPC client's messages.
fn requests<T: Send + 'static>(stream: tonic::Streaming<T>) -> Streaming<T> {
    Streaming::from_stream(stream.map(|item| item.map_err(|s| Status::from(&s))))
}

/// Runs a unary (or fire-and-forget) handler for a gRPC call.
pub async fn unary<Req, Resp, F, Fut>(
    spec: &'static ServiceSpec,
    method: usize,
    request: tonic::Request<Req>,
    handler: F,
) -> Result<tonic::Response<Resp>, tonic::Status>
where
    F: FnOnce(Request<Req>) -> Fut,
    Fut: Future<Output = Result<Response<Resp>, Status>>,
{
    let (request, guard) = incoming(spec, method, request)?;
    let (deadline, cancel) = (request.deadline(), request.cancellation().clone());
    let reply = run(spec, method, deadline, cancel, handler(request)).await;
    guard.disarm();
    let reply = reply.map_err(tonic::Status::from)?;
    // As over NATS: a header the handler could not set fails the call.
    if let Some(bad) = reply.invalid_header() {
        return Err(tonic::Status::internal(format!(
            "the handler's reply has an {bad}"
        )));
    }
    Ok(outgoing(reply))
}

/// Runs a client-streaming handler for a gRPC call.
pub async fn client_stream<Req, Resp, F, Fut>(
    spec: &'static ServiceSpec,
    method: usize,
    request: tonic::Request<tonic::Streaming<Req>>,
    handler: F,
) -> Result<tonic::Response<Resp>, tonic::Status>
where
    Req: Send + 'static,
    F: FnOnce(Request<Streaming<Req>>) -> Fut,
    Fut: Future<Output = Result<Response<Resp>, Status>>,
{
    unary(spec, method, request.map(requests), handler).await
}

/// Runs a streamed-reply handler for a gRPC call: it runs in a task of its
/// own, its items reach the client as it sends them (at most a window
/// ahead), and its error, if any, ends the stream. Dropping the stream —
/// the client went away — cancels and drops the handler.
pub fn server_stream<Req, Resp, F, Fut>(
    spec: &'static ServiceSpec,
    method: usize,
    request: tonic::Request<Req>,
    handler: F,
) -> Result<tonic::Response<ReplyStream<Resp>>, tonic::Status>
where
    Resp: Clone + Send + 'static,
    F: FnOnce(Request<Req>, Sink<Resp>) -> Fut,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let (request, guard) = incoming(spec, method, request)?;
    let (deadline, cancel) = (request.deadline(), request.cancellation().clone());
    let (sink, items) = Sink::channel(WINDOW);
    let task = tokio::spawn(run(spec, method, deadline, cancel, handler(request, sink)));
    // Items until the handler drops its sink, then its outcome.
    let watch = Watch {
        task: Some(task),
        guard: Some(guard),
    };
    let items = tokio_stream_of(items).map(Ok);
    let end = futures::stream::unfold(watch, |mut watch| async move {
        let task = watch.task.take()?;
        let outcome = match task.await {
            Ok(outcome) => outcome,
            Err(e) => Err(Status::internal(format!("handler task failed: {e}"))),
        };
        watch.disarm();
        outcome.err().map(|status| (Err(status.into()), watch))
    });
    Ok(tonic::Response::new(items.chain(end).boxed()))
}

/// Runs a bidirectional handler for a gRPC call (see
/// [`server_stream`]).
pub fn bidi_stream<Req, Resp, F, Fut>(
    spec: &'static ServiceSpec,
    method: usize,
    request: tonic::Request<tonic::Streaming<Req>>,
    handler: F,
) -> Result<tonic::Response<ReplyStream<Resp>>, tonic::Status>
where
    Req: Send + 'static,
    Resp: Clone + Send + 'static,
    F: FnOnce(Request<Streaming<Req>>, Sink<Resp>) -> Fut,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    server_stream(spec, method, request.map(requests), handler)
}

/// The handler task of a stream and the guard of its cancellation token:
/// dropped before the handler ended, both stop it.
struct Watch<T> {
    task: Option<tokio::task::JoinHandle<T>>,
    guard: Option<DropGuard>,
}

impl<T> Watch<T> {
    /// The handler ended: nothing to stop.
    fn disarm(&mut self) {
        self.task = None;
        if let Some(guard) = self.guard.take() {
            guard.disarm();
        }
    }
}

impl<T> Drop for Watch<T> {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

fn tokio_stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> BoxStream<'static, T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}
