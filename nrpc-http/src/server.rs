//! Serving an HTTP service over NATS: any `tower::Service` of HTTP
//! requests — an axum `Router` as it is — answers the requests for a
//! `.nats` host, beside its normal listener.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use nrpc_runtime::async_nats;
use nrpc_runtime::Connection;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceExt};

use crate::wire;

/// What a request body is, for the service: the whole body, read from the
/// payload.
pub type RequestBody = Full<Bytes>;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The host or prefix cannot be served.
    #[error(transparent)]
    Wire(#[from] wire::WireError),
    /// The subscription failed.
    #[error("subscribing to {subject}: {message}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// Why.
        message: String,
    },
}

/// Sets up an [`HttpServer`].
#[derive(Debug)]
pub struct HttpServerBuilder {
    conn: Connection,
    host: String,
    prefix: String,
    max_concurrent: usize,
    version: String,
}

/// Serves an HTTP service over NATS.
#[derive(Debug)]
pub struct HttpServer;

impl HttpServer {
    /// A server of `host` (ending in `.nats`) on `conn`; the subject prefix
    /// is `NATS_PREFIX` if set, else `nrt` (as nrt's own servers).
    pub fn builder(conn: &Connection, host: &str) -> Result<HttpServerBuilder, wire::WireError> {
        Ok(HttpServerBuilder {
            conn: conn.clone(),
            host: wire::check_host(host)?,
            prefix: crate::prefix_from_env(),
            max_concurrent: 1024,
            version: "0.0.0".to_owned(),
        })
    }
}

impl HttpServerBuilder {
    /// The subject prefix (instead of `NATS_PREFIX` or `nrt`): canaries
    /// and environments by subject mapping.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The version discovery reports (`0.0.0`).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Requests handled at once (1024); one more is answered `503` at
    /// once.
    pub fn max_concurrent_requests(mut self, n: usize) -> Self {
        self.max_concurrent = n.max(1);
        self
    }

    /// Starts answering the host's requests with `service` until the
    /// handle is shut down.
    pub async fn serve<S, B>(self, service: S) -> Result<HttpServerHandle, ServeError>
    where
        S: Service<http::Request<RequestBody>, Response = http::Response<B>>
            + Clone
            + Send
            + 'static,
        S::Future: Send,
        S::Error: std::fmt::Display + Send,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Display,
    {
        let subject = wire::serve_subject(&self.prefix, &self.host)?;
        let nats = self.conn.nats().clone();
        let mut requests = nats
            .queue_subscribe(subject.clone(), wire::QUEUE_GROUP.to_owned())
            .await
            .map_err(|e| ServeError::Subscribe {
                subject: subject.clone(),
                message: e.to_string(),
            })?;
        // The broker has the subscription before callers are told.
        let _ = nats.flush().await;
        let stop = CancellationToken::new();
        // In NATS services discovery, as one instance of the host.
        let counters = Arc::new(crate::discovery::Counters::default());
        let identity = crate::discovery::Identity {
            host: self.host.clone(),
            subject: subject.clone(),
            id: nuid::next().to_string(),
            version: self.version.clone(),
        };
        crate::discovery::answer(nats.clone(), identity, counters.clone(), stop.clone())
            .await
            .map_err(|message| ServeError::Subscribe {
                subject: "$SRV.>".to_owned(),
                message,
            })?;
        let slots = Arc::new(Semaphore::new(self.max_concurrent));
        let running = tokio_util::task::TaskTracker::new();
        let max_payload = nats.server_info().max_payload;
        let host = self.host.clone();
        let serving = {
            let (stop, running) = (stop.clone(), running.clone());
            tokio::spawn(async move {
                loop {
                    let message = tokio::select! {
                        () = stop.cancelled() => break,
                        message = requests.next() => match message {
                            Some(message) => message,
                            None => break,
                        },
                    };
                    let Some(reply) = message.reply.clone() else {
                        continue;
                    };
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        let (status, busy) = status_reply(
                            http::StatusCode::SERVICE_UNAVAILABLE,
                            "the server is at its limit of requests in progress",
                        );
                        counters.count(status, Duration::ZERO);
                        let _ = nats.publish(reply, busy).await;
                        continue;
                    };
                    let (nats, service) = (nats.clone(), service.clone());
                    let counters = counters.clone();
                    let host = host.clone();
                    running.spawn(async move {
                        let started = tokio::time::Instant::now();
                        let (status, answer) = answer(service, &message.payload, max_payload).await;
                        let took = started.elapsed();
                        counters.count(status, took);
                        let method = message.payload.split(|b| *b == b' ').next();
                        if let Some(method) = method.and_then(|m| http::Method::from_bytes(m).ok())
                        {
                            crate::observe("server", &host, &method, status, took);
                        }
                        let _ = nats.publish(reply, answer).await;
                        drop(slot);
                    });
                }
                let _ = requests.unsubscribe().await;
            })
        };
        Ok(HttpServerHandle {
            stop,
            running,
            serving,
            nats: self.conn.nats().clone(),
        })
    }
}

/// A reply with `status` and a text body.
fn status_reply(status: http::StatusCode, text: &str) -> (u16, Bytes) {
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = status;
    parts.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    (
        status.as_u16(),
        wire::encode_response(&parts, format!("{text}\n").as_bytes()),
    )
}

/// The reply payload for one request payload, and its status.
async fn answer<S, B>(service: S, payload: &Bytes, max_payload: usize) -> (u16, Bytes)
where
    S: Service<http::Request<RequestBody>, Response = http::Response<B>>,
    S::Error: std::fmt::Display,
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let mut request = match wire::decode_request(payload) {
        Ok(request) => request.map(Full::new),
        Err(e) => return status_reply(http::StatusCode::BAD_REQUEST, &e.to_string()),
    };
    // The caller's deadline, if it says one: the handler is dropped
    // (cancelled) when it passes.
    let deadline = request
        .headers_mut()
        .remove(wire::TIMEOUT_HEADER)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .map(Duration::from_millis);
    let handling = service.oneshot(request);
    let handled = match deadline {
        Some(left) => match tokio::time::timeout(left, handling).await {
            Ok(handled) => handled,
            Err(_) => {
                return status_reply(
                    http::StatusCode::GATEWAY_TIMEOUT,
                    "the caller's deadline passed",
                )
            }
        },
        None => handling.await,
    };
    let response = match handled {
        Ok(response) => response,
        Err(e) => return status_reply(http::StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return status_reply(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the response body failed: {e}"),
            )
        }
    };
    let reply = wire::encode_response(&parts, &body);
    if reply.len() <= max_payload {
        return (parts.status.as_u16(), reply);
    }
    // Never dropped silently: the caller learns why.
    status_reply(
        http::StatusCode::BAD_GATEWAY,
        &format!(
            "the response ({} bytes) is larger than the broker's max_payload ({max_payload} bytes)",
            reply.len()
        ),
    )
}

/// A running server: stop it with [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct HttpServerHandle {
    stop: CancellationToken,
    running: tokio_util::task::TaskTracker,
    serving: tokio::task::JoinHandle<()>,
    nats: async_nats::Client,
}

impl HttpServerHandle {
    /// Stops taking requests, lets those in progress answer (within
    /// `grace`), and flushes their replies.
    pub async fn shutdown(self, grace: Duration) {
        self.stop.cancel();
        let _ = self.serving.await;
        self.running.close();
        let _ = tokio::time::timeout(grace, self.running.wait()).await;
        let _ = tokio::time::timeout(grace, self.nats.flush()).await;
    }
}
