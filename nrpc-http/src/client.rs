//! Calling HTTP services over NATS: `http(s)://<host>.nats/…` requests as
//! a `tower::Service`, with answers NATS knows made HTTP-shaped at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use nrpc_runtime::async_nats;
use nrpc_runtime::Connection;

use crate::wire;

/// Why a request could not be made: the URL names no `.nats` host, or its
/// body failed. Everything NATS can answer is a response instead: no
/// responders `503`, timeout `504`, too large for the broker `413`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL cannot be reached over NATS.
    #[error(transparent)]
    Wire(#[from] wire::WireError),
    /// The request's body failed.
    #[error("the request body failed: {0}")]
    Body(String),
}

/// An HTTP client over NATS; cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    nats: async_nats::Client,
    prefix: String,
    timeout: Duration,
}

impl HttpClient {
    /// A client on `conn`; the subject prefix is `NATS_PREFIX` if set,
    /// else `nrt`; requests time out after 30 s (as nrt's).
    pub fn new(conn: &Connection) -> Self {
        HttpClient {
            nats: conn.nats().clone(),
            prefix: crate::prefix_from_env(),
            timeout: Duration::from_secs(30),
        }
    }

    /// The subject prefix (instead of `NATS_PREFIX` or `nrt`).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a request waits for its reply (then `504`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Result<http::Response<Bytes>, ClientError> {
        self.send(request(http::Method::GET, url, Bytes::new())?)
            .await
    }

    /// `POST url` with `body`.
    pub async fn post(
        &self,
        url: &str,
        body: impl Into<Bytes>,
    ) -> Result<http::Response<Bytes>, ClientError> {
        self.send(request(http::Method::POST, url, body.into())?)
            .await
    }

    /// Sends `request` to the `.nats` host its URL names.
    pub async fn send<B>(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<Bytes>, ClientError>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::fmt::Display,
    {
        let host = wire::nats_host(request.uri())?;
        let method = request.method().clone();
        let started = std::time::Instant::now();
        let response = self.exchange(&host, request).await?;
        let status = response.status().as_u16();
        crate::observe("client", &host, &method, status, started.elapsed());
        Ok(response)
    }

    /// The request to `host` and its answer.
    async fn exchange<B>(
        &self,
        host: &str,
        request: http::Request<B>,
    ) -> Result<http::Response<Bytes>, ClientError>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::fmt::Display,
    {
        let subject = wire::request_subject(&self.prefix, host, request.method())?;
        let (mut parts, body) = request.into_parts();
        // How long the caller waits, as an HTTP header of the request: an
        // nrpc-http server stops the handler then (Go servers pass it on).
        parts.headers.insert(
            wire::TIMEOUT_HEADER,
            http::HeaderValue::from(self.timeout.as_millis().min(u128::from(u64::MAX)) as u64),
        );
        let body = body
            .collect()
            .await
            .map_err(|e| ClientError::Body(e.to_string()))?
            .to_bytes();
        let payload = wire::encode_request(&parts, host, &body);
        let max_payload = self.nats.server_info().max_payload;
        if payload.len() > max_payload {
            return Ok(answer(
                http::StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "the request ({} bytes) is larger than the broker's max_payload ({max_payload} bytes)",
                    payload.len()
                ),
            ));
        }
        // A plain message: NATS headers cost both sides on every request,
        // and nrt's (NRT-HostName, -Method, -Path) are informational only.
        let asked = self.nats.request(subject.clone(), payload);
        let reply = match tokio::time::timeout(self.timeout, asked).await {
            Err(_) => {
                return Ok(answer(
                    http::StatusCode::GATEWAY_TIMEOUT,
                    &format!("no answer from {host} within {:?}", self.timeout),
                ))
            }
            Ok(Err(e)) => {
                use async_nats::RequestErrorKind as Kind;
                let (status, why) = match e.kind() {
                    Kind::NoResponders => (
                        http::StatusCode::SERVICE_UNAVAILABLE,
                        format!("nothing serves {host} (no responders on {subject})"),
                    ),
                    Kind::TimedOut => (
                        http::StatusCode::GATEWAY_TIMEOUT,
                        format!("no answer from {host}"),
                    ),
                    Kind::MaxPayloadExceeded => (
                        http::StatusCode::PAYLOAD_TOO_LARGE,
                        format!("the request is larger than the broker's max_payload: {e}"),
                    ),
                    Kind::InvalidSubject | Kind::Other => {
                        (http::StatusCode::BAD_GATEWAY, e.to_string())
                    }
                };
                return Ok(answer(status, &why));
            }
            Ok(Ok(reply)) => reply,
        };
        Ok(match wire::decode_response(&reply.payload) {
            Ok(response) => response,
            Err(e) => answer(http::StatusCode::BAD_GATEWAY, &e.to_string()),
        })
    }
}

fn request(
    method: http::Method,
    url: &str,
    body: Bytes,
) -> Result<http::Request<Full<Bytes>>, ClientError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| wire::WireError::NoHost(url.to_owned()))?;
    let mut request = http::Request::new(Full::new(body));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    Ok(request)
}

/// A response the client makes itself: `status` and why.
fn answer(status: http::StatusCode, why: &str) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from(format!("{why}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

impl<B> tower::Service<http::Request<B>> for HttpClient
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::fmt::Display,
{
    type Response = http::Response<Bytes>;
    type Error = ClientError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ClientError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let client = self.clone();
        Box::pin(async move { client.send(request).await })
    }
}
