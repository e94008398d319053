//! The gRPC door: any gRPC client calls `/<package>.<Service>/<Method>`
//! and the protobuf bytes go through as they are (no decoding: the gateway
//! needs a service's subjects, not its messages). Metadata travels as NATS
//! headers, `grpc-timeout` as the call's deadline, statuses come back with
//! the same code.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::{Buf, BufMut, Bytes};
use futures::stream::{BoxStream, StreamExt};
use nrpc_runtime::codec::Raw;
use nrpc_runtime::{CallError, Code, MethodKind};
use nrpc_wire::grpc::grpc_face;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;

use crate::call::{prepare, reply_headers, BadInput, Failure, Prepared};
use crate::Shared;

/// Messages as the bytes they are on the wire.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

type Items = BoxStream<'static, Result<Bytes, tonic::Status>>;

fn status(e: CallError) -> tonic::Status {
    Failure::from(e).grpc()
}

fn with_metadata<T>(message: T, headers: &nrpc_runtime::HeaderMap) -> tonic::Response<T> {
    let mut response = tonic::Response::new(message);
    *response.metadata_mut() = MetadataMap::from_headers(reply_headers(headers));
    response
}

/// Items of a reply stream as gRPC messages; the first error ends it.
fn items(replies: BoxStream<'static, Result<Bytes, CallError>>) -> Items {
    replies.map(|item| item.map_err(status)).boxed()
}

/// Requests of a gRPC request stream; an error of the client's stream
/// (a message over the limit, a reset) ends the input and marks it bad.
fn requests(stream: tonic::Streaming<Bytes>, bad: BadInput) -> BoxStream<'static, Bytes> {
    stream
        .map(move |item| {
            item.map_err(|s| {
                let status = nrpc_runtime::Status::from(&s);
                bad.set(Failure::new(status.code(), status.message()))
            })
        })
        .take_while(|item| futures::future::ready(item.is_ok()))
        .filter_map(|item| futures::future::ready(item.ok()))
        .boxed()
}

/// How gRPC calls this method — whether requests and replies stream — or
/// why it cannot: an event, or a descriptor that streams differently from
/// its nrpc kind (nRPC's `streamedReply` option); the rule the generated
/// glue follows too. Without a descriptor, the kind decides.
fn grpc_shape(call: &Prepared) -> Result<(bool, bool), String> {
    let spec = &call.target.service.spec;
    let method = call.method();
    let proto = call
        .target
        .service
        .pool
        .get_service_by_name(&spec.name)
        .and_then(|s| s.methods().find(|m| m.name() == method.name));
    let declared = proto
        .as_ref()
        .map(|p| (p.is_client_streaming(), p.is_server_streaming()));
    let is_void = |m: prost_reflect::MessageDescriptor| {
        matches!(m.full_name(), "nrpc.Void" | "google.protobuf.Empty")
    };
    let void = proto.map_or((false, false), |p| {
        (is_void(p.input()), is_void(p.output()))
    });
    grpc_face(method, declared, void).map_err(|no| no.message(&spec.name, method, "NATS or HTTP"))
}

/// Serves one gRPC call.
pub(crate) async fn call(
    shared: Arc<Shared>,
    service: &str,
    method: &str,
    request: http::Request<Body>,
) -> Response {
    let call = match prepare(
        &shared,
        service,
        method,
        Vec::new(),
        Vec::new(),
        request.headers(),
        request.extensions(),
    )
    .await
    {
        Ok(call) => Arc::new(call),
        Err(failure) => return failure.grpc().into_http(),
    };
    let shape = match grpc_shape(&call) {
        Ok(shape) => shape,
        Err(why) => return Failure::new(Code::Unimplemented, why).grpc().into_http(),
    };
    let mut grpc =
        tonic::server::Grpc::new(RawCodec).max_decoding_message_size(shared.options.max_body);
    // (requests stream, replies stream)
    // A single request must arrive within the call's deadline.
    let deadline = call.deadline;
    let late = || Failure::late_request().grpc().into_http();
    let response = match shape {
        (false, false) => {
            let service = tower::service_fn(move |request: tonic::Request<Bytes>| {
                let call = call.clone();
                async move { unary(&call, request.into_inner()).await }
            });
            match tokio::time::timeout_at(deadline, grpc.unary(service, request)).await {
                Ok(response) => response,
                Err(_) => return late(),
            }
        }
        (false, true) => {
            let service = tower::service_fn(move |request: tonic::Request<Bytes>| {
                let call = call.clone();
                async move { server_stream(&call, request.into_inner()).await }
            });
            match tokio::time::timeout_at(deadline, grpc.server_streaming(service, request)).await {
                Ok(response) => response,
                Err(_) => return late(),
            }
        }
        (true, false) => {
            let service =
                tower::service_fn(move |request: tonic::Request<tonic::Streaming<Bytes>>| {
                    let call = call.clone();
                    async move {
                        let (replies, bad) = open(&call, request.into_inner()).await?;
                        let reply = bad.single_reply(replies).await.map_err(|f| f.grpc())?;
                        Ok(tonic::Response::new(reply))
                    }
                });
            grpc.client_streaming(service, request).await
        }
        (true, true) => {
            let service =
                tower::service_fn(move |request: tonic::Request<tonic::Streaming<Bytes>>| {
                    let call = call.clone();
                    async move {
                        let (replies, bad) = open(&call, request.into_inner()).await?;
                        let stop = bad.token().clone().cancelled_owned();
                        let replies = items(replies.boxed()).take_until(stop);
                        let end =
                            futures::stream::once(async move { bad.check().map_err(|f| f.grpc()) })
                                .filter_map(|r| futures::future::ready(r.err().map(Err)));
                        Ok::<_, tonic::Status>(tonic::Response::new(
                            replies.chain(end).boxed() as Items
                        ))
                    }
                });
            grpc.streaming(service, request).await
        }
    };
    response.map(Body::new)
}

async fn unary(call: &Prepared, payload: Bytes) -> Result<tonic::Response<Bytes>, tonic::Status> {
    let client = call.client().map_err(|f| f.grpc())?;
    let params = call.method_params();
    let options = Some(call.options_now());
    if call.method().kind == MethodKind::NoReply {
        client
            .send::<Raw>(call.index, &params, &payload, options)
            .await
            .map_err(status)?;
        return Ok(tonic::Response::new(Bytes::new()));
    }
    let reply = client
        .unary::<Raw, Raw>(call.index, &params, &payload, options)
        .await
        .map_err(status)?;
    let (payload, headers) = reply.into_parts();
    Ok(with_metadata(payload, &headers))
}

async fn server_stream(
    call: &Prepared,
    payload: Bytes,
) -> Result<tonic::Response<Items>, tonic::Status> {
    let client = call.client().map_err(|f| f.grpc())?;
    let params = call.method_params();
    let replies = client
        .server_stream::<Raw, Raw>(call.index, &params, &payload, Some(call.options_now()))
        .await
        .map_err(status)?;
    Ok(tonic::Response::new(items(replies.boxed())))
}

/// Opens a request stream from the gRPC client's messages; the
/// [`BadInput`] says if the client's stream failed.
async fn open(
    call: &Prepared,
    stream: tonic::Streaming<Bytes>,
) -> Result<(nrpc_runtime::ReplyStream<Bytes>, BadInput), tonic::Status> {
    let client = call.client().map_err(|f| f.grpc())?;
    let params = call.method_params();
    let bad = BadInput::default();
    let replies = client
        .open_stream::<Raw, Raw>(
            call.index,
            &params,
            requests(stream, bad.clone()),
            Some(call.options.clone()),
        )
        .await
        .map_err(status)?;
    Ok((replies, bad))
}
