//! Plain HTTP onto HTTP services over NATS: requests under a path prefix go
//! to a `.nats` host (nrpc-http, or nats-roundtripper's Go servers), path
//! and query unchanged, and the service's status, headers and body come
//! back as the response.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use nrpc_http::HttpClient;

use crate::call::{peer, Failure};
use nrpc_runtime::Code;

/// Headers that belong to one hop, not to the request or response.
fn hop_by_hop(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-authorization"
            | "proxy-authenticate"
            | "host"
    )
}

/// One route: a path prefix and the host it goes to.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) prefix: String,
    pub(crate) host: String,
}

/// Forwards `request` to the route's host over NATS.
pub(crate) async fn forward(
    client: Arc<HttpClient>,
    host: Arc<str>,
    tls: bool,
    max_body: usize,
    request: http::Request<Body>,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, max_body).await {
        Ok(body) => body,
        Err(_) => {
            return Failure::new(
                Code::ResourceExhausted,
                format!("the request body is larger than the gateway's limit of {max_body} bytes"),
            )
            .with_http(413)
            .into_response()
        }
    };
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = match format!("http://{host}{target}").parse::<http::Uri>() {
        Ok(uri) => uri,
        Err(e) => {
            return Failure::new(Code::InvalidArgument, format!("the target: {e}")).into_response()
        }
    };
    let mut out = http::Request::new(http_body_util::Full::new(body));
    *out.method_mut() = parts.method.clone();
    *out.uri_mut() = uri;
    for (name, value) in &parts.headers {
        // A caller's identity is the gateway's to say, never the caller's.
        if !hop_by_hop(name) && !nrpc_wire::caller::is_caller_header(name.as_str()) {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    let forwarded = out.headers_mut();
    if let Some(address) = peer(&parts.extensions) {
        if let Ok(v) = http::HeaderValue::from_str(&address.to_string()) {
            forwarded.append("x-forwarded-for", v);
        }
    }
    forwarded.insert(
        "x-forwarded-proto",
        http::HeaderValue::from_static(if tls { "https" } else { "http" }),
    );
    if let Some(original) = parts.headers.get(http::header::HOST) {
        forwarded.insert("x-forwarded-host", original.clone());
    }
    // The response's body as the service produces it (events, large).
    match client.stream(out).await {
        Ok(reply) => {
            let (mut parts, body) = reply.into_parts();
            let mut headers = http::HeaderMap::with_capacity(parts.headers.len());
            for (name, value) in &parts.headers {
                if !hop_by_hop(name) {
                    headers.append(name.clone(), value.clone());
                }
            }
            parts.headers = headers;
            Response::from_parts(parts, Body::new(body))
        }
        Err(e) => Failure::new(Code::InvalidArgument, e.to_string()).into_response(),
    }
}
