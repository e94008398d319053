//! The HTTP/JSON door: `POST /<package>.<Service>/<Method>[/<param>…]`
//! with a JSON body (protobuf's JSON mapping), the reply as JSON; streamed
//! replies as newline-delimited JSON or, when asked with
//! `Accept: text/event-stream`, server-sent events; request streams as
//! newline-delimited JSON bodies.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use nrpc_reflect::json::{decode, encode};
use nrpc_reflect::Message;
use nrpc_runtime::codec::Raw;
use nrpc_runtime::{CallError, Code, MethodKind};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::io::StreamReader;

use crate::call::{bounded_events, prepare, reply_headers, BadInput, Failure};
use crate::Shared;

const JSON: &str = "application/json";
const NDJSON: &str = "application/x-ndjson";

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = (
            self.http_status(),
            [(http::header::CONTENT_TYPE, JSON)],
            self.json().to_string(),
        )
            .into_response();
        if let Some(after) = self.retry_after_header() {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, after);
        }
        response
    }
}

/// Serves one JSON call.
pub(crate) async fn call(
    shared: Arc<Shared>,
    service: &str,
    method: &str,
    positional: Vec<String>,
    request: http::Request<Body>,
) -> Response {
    match run(shared, service, method, positional, request).await {
        Ok(response) => response,
        Err(failure) => failure.into_response(),
    }
}

async fn run(
    shared: Arc<Shared>,
    service: &str,
    method: &str,
    positional: Vec<String>,
    request: http::Request<Body>,
) -> Result<Response, Failure> {
    let (parts, body) = request.into_parts();
    let named: Vec<(String, String)> = match parts.uri.query() {
        Some(q) => query_pairs(q)?,
        None => Vec::new(),
    };
    let call = prepare(
        &shared,
        service,
        method,
        positional,
        named,
        &parts.headers,
        &parts.extensions,
    )
    .await?;
    // GET is what pages of any site can make browsers send: reading only.
    if parts.method == http::Method::GET
        && call.method().kind != MethodKind::NoRequest
        && !call.has_no_side_effects()
    {
        return Ok((
            http::StatusCode::METHOD_NOT_ALLOWED,
            [(http::header::ALLOW, "POST")],
            Failure::new(
                Code::InvalidArgument,
                "GET calls only methods declared `idempotency_level = NO_SIDE_EFFECTS` and events; use POST",
            )
            .with_http(405)
            .json()
            .to_string(),
        )
            .into_response());
    }
    let sse = parts
        .headers
        .get_all(http::header::ACCEPT)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains("text/event-stream")));
    let (input, output) = call.target.service.types[call.index].clone();
    let client = call.client()?;
    let params = call.method_params();
    let limit = shared.options.max_body;

    match call.method().kind {
        MethodKind::Unary | MethodKind::NoReply => {
            let payload = call.read(one_request(&input, body, limit)).await?;
            let options = Some(call.options_now());
            if call.method().kind == MethodKind::NoReply {
                if !call.target.service.durable[call.index] {
                    client
                        .send::<Raw>(call.index, &params, &payload, options)
                        .await?;
                    return Ok((
                        http::StatusCode::ACCEPTED,
                        [(http::header::CONTENT_TYPE, JSON)],
                        "{}",
                    )
                        .into_response());
                }
                // Durable: accepted once the broker has stored it, under
                // the caller's Idempotency-Key if it sends one.
                let mut options = call.options_now();
                if let Some(key) = idempotency_key(&parts.headers)? {
                    options = options.message_id(key);
                }
                let stored = client
                    .publish_durable::<Raw>(call.index, &params, &payload, Some(options))
                    .await?;
                let body = serde_json::json!({
                    "stream": stored.stream,
                    "sequence": stored.sequence,
                    "duplicate": stored.duplicate,
                });
                return Ok((
                    http::StatusCode::ACCEPTED,
                    [(http::header::CONTENT_TYPE, JSON)],
                    body.to_string(),
                )
                    .into_response());
            }
            let reply = client
                .unary::<Raw, Raw>(call.index, &params, &payload, options)
                .await?;
            let (payload, headers) = reply.into_parts();
            let json = decode(&output, payload)?;
            let mut response = ([(http::header::CONTENT_TYPE, JSON)], json).into_response();
            response.headers_mut().extend(reply_headers(&headers));
            Ok(response)
        }
        MethodKind::StreamedReply => {
            let payload = call.read(one_request(&input, body, limit)).await?;
            let options = Some(call.options_now());
            let replies = client
                .server_stream::<Raw, Raw>(call.index, &params, &payload, options)
                .await?;
            Ok(stream_response(replies.boxed(), output, sse, None))
        }
        MethodKind::NoRequest => {
            let events = client
                .subscribe_events::<Raw>(call.index, &params, None)
                .await?;
            let events = bounded_events(events, shared.options.subscriber_buffer);
            Ok(stream_response(events, output, sse, None))
        }
        MethodKind::ClientStreaming | MethodKind::Bidirectional => {
            let bad = BadInput::default();
            let requests = request_lines(input, body, limit, bad.clone());
            let options = Some(call.options.clone());
            let replies = client
                .open_stream::<Raw, Raw>(call.index, &params, requests, options)
                .await?;
            if call.method().kind == MethodKind::Bidirectional {
                return Ok(stream_response(replies.boxed(), output, sse, Some(bad)));
            }
            let json = decode(&output, bad.single_reply(replies).await?)?;
            Ok(([(http::header::CONTENT_TYPE, JSON)], json).into_response())
        }
    }
}

/// `a=1&b=2` as pairs.
fn query_pairs(query: &str) -> Result<Vec<(String, String)>, Failure> {
    serde_urlencoded::from_str(query)
        .map_err(|e| Failure::new(Code::InvalidArgument, format!("the query string: {e}")))
}

/// The body as one request (`{}` if empty).
async fn one_request(input: &Message, body: Body, limit: usize) -> Result<Bytes, Failure> {
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| body_failure(&e, limit))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::new(Code::InvalidArgument, "the request body is not UTF-8"))?;
    let text = if text.trim().is_empty() { "{}" } else { text };
    Ok(encode(input, text, "the request")?)
}

/// Why a body could not be read: the gateway's budget is spent (`503`),
/// it is over the limit (`413`), or the client's connection failed.
fn body_failure(e: &(dyn std::error::Error + 'static), limit: usize) -> Failure {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if let Some(status) = e.downcast_ref::<tonic::Status>() {
            let status = nrpc_runtime::Status::from(status);
            return Failure::new(status.code(), status.message()).with_http(503);
        }
        if e.is::<http_body_util::LengthLimitError>() {
            return too_large(limit);
        }
        // An io::Error's source is its inner error's source: look at both.
        cause = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    Failure::new(
        Code::InvalidArgument,
        format!("reading the request body: {e}"),
    )
}

fn too_large(limit: usize) -> Failure {
    Failure::new(
        Code::ResourceExhausted,
        format!("the request body is larger than the gateway's limit of {limit} bytes"),
    )
    .with_http(413)
}

/// The body's non-empty lines, each encoded as a request.
fn request_lines(
    input: Message,
    body: Body,
    limit: usize,
    bad: BadInput,
) -> BoxStream<'static, Bytes> {
    let reader = StreamReader::new(
        body.into_data_stream()
            .map(|chunk| chunk.map_err(std::io::Error::other)),
    );
    let lines = FramedRead::new(reader, LinesCodec::new_with_max_length(limit));
    futures::stream::unfold(
        (lines, 0usize, input, bad),
        move |(mut lines, n, input, bad)| async move {
            loop {
                let line = match lines.next().await? {
                    Ok(line) => line,
                    Err(LinesCodecError::MaxLineLengthExceeded) => {
                        bad.set(too_large(limit));
                        return None;
                    }
                    Err(LinesCodecError::Io(e)) => {
                        bad.set(body_failure(&e, limit));
                        return None;
                    }
                };
                if line.trim().is_empty() {
                    continue;
                }
                let n = n + 1;
                match encode(&input, &line, &format!("request {n} (body line)")) {
                    Ok(payload) => return Some((payload, (lines, n, input, bad))),
                    Err(e) => {
                        bad.set(e.into());
                        return None;
                    }
                }
            }
        },
    )
    .boxed()
}

/// One JSON document per item, as NDJSON lines or SSE events; a failure
/// (of the call, of a reply's decoding, or of the request stream `bad`)
/// ends the stream with an error document, and dropping the stream — the
/// HTTP client went away — cancels the call.
fn stream_response(
    items: BoxStream<'static, Result<Bytes, CallError>>,
    output: Message,
    sse: bool,
    bad: Option<BadInput>,
) -> Response {
    let stopped = bad.as_ref().map(|b| b.token().clone().cancelled_owned());
    let items = match stopped {
        Some(stop) => items.take_until(stop).boxed(),
        None => items,
    };
    let documents = futures::stream::unfold(
        (Some(items), output, bad),
        |(items, output, bad)| async move {
            let mut items = items?;
            let doc = match items.next().await {
                Some(Ok(payload)) => match decode(&output, payload) {
                    Ok(json) => Ok(json),
                    Err(e) => Err(Failure::from(e)),
                },
                Some(Err(e)) => Err(Failure::from(e)),
                None => match bad.as_ref().map(BadInput::check) {
                    Some(Err(f)) => Err(f),
                    _ => return None,
                },
            };
            match doc {
                Ok(json) => Some((Ok(json), (Some(items), output, bad))),
                // The error is the last document; the call is dropped.
                Err(f) => Some((Err(f), (None, output, bad))),
            }
        },
    );
    if sse {
        let events = documents.map(|doc| {
            Ok::<_, Infallible>(match doc {
                Ok(json) => Event::default().data(json),
                Err(f) => Event::default().event("error").data(f.json().to_string()),
            })
        });
        Sse::new(events)
            .keep_alive(KeepAlive::default())
            .into_response()
    } else {
        let lines = documents.map(|doc| {
            let mut line = match doc {
                Ok(json) => json,
                Err(f) => f.json().to_string(),
            };
            line.push('\n');
            Ok::<_, Infallible>(Bytes::from(line))
        });
        (
            [(http::header::CONTENT_TYPE, NDJSON)],
            Body::from_stream(lines),
        )
            .into_response()
    }
}

/// The caller's `Idempotency-Key`: the durable publish's message id, so a
/// retried POST is stored once. Visible ASCII, at most 255 characters.
fn idempotency_key(headers: &http::HeaderMap) -> Result<Option<String>, Failure> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key)
            if !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(key.to_owned()))
        }
        _ => Err(Failure::new(
            Code::InvalidArgument,
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}
