//! The client half of streamed replies: heartbeats out, keepalives and
//! items in, credit granted as the caller consumes, `lastbeat` on drop.

use std::time::Duration;

use async_nats::{HeaderMap, StatusCode};
use futures::stream::BoxStream;
use futures::StreamExt;

use super::router::Replies;
use super::{reply_code, CallError, CallOptions, Prepared, Route, ServiceClient};
use crate::codec::Codec;
use crate::status::NrpcErrorType;
use crate::wire::stream::{self as wire_stream, DEFAULT_WINDOW, HEARTBEAT_INTERVAL, KEEPALIVE};
use crate::wire::{Encoding, ErrorFrame};
use tokio::sync::Semaphore;

/// Reply messages buffered beyond the window (keepalives, the end frame).
const SLACK: usize = 64;

struct ClientStream {
    replies: Replies,
    /// For streaming requests: the credit the server granted and the task
    /// sending them.
    upload: Option<(
        std::sync::Arc<tokio::sync::Semaphore>,
        tokio::task::AbortHandle,
    )>,
    nats: async_nats::Client,
    heartbeat_subject: String,
    heartbeat_task: tokio::task::AbortHandle,
    encoding: Encoding,
    inactivity: Duration,
    window: u32,
    received: u32,
    since_grant: u32,
    done: bool,
}

impl Drop for ClientStream {
    fn drop(&mut self) {
        self.heartbeat_task.abort();
        if let Some((_, sender)) = &self.upload {
            sender.abort();
        }
        if self.done {
            return;
        }
        // Dropped mid-stream: tell the server to stop (nRPC's lastbeat).
        let (nats, subject) = (self.nats.clone(), self.heartbeat_subject.clone());
        let payload = wire_stream::encode_heartbeat(self.encoding, true);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = nats.publish(subject, payload).await;
            });
        }
    }
}

impl ClientStream {
    /// The next item, or the end of the stream.
    async fn next<T: Codec>(&mut self) -> Option<Result<T::Item, CallError>> {
        if self.done {
            return None;
        }
        let result = self.receive::<T>().await;
        if !matches!(result, Some(Ok(_))) {
            self.done = true;
        }
        result
    }

    async fn receive<T: Codec>(&mut self) -> Option<Result<T::Item, CallError>> {
        loop {
            let msg = match tokio::time::timeout(self.inactivity, self.replies.rx.recv()).await {
                Err(_) => return Some(Err(CallError::Timeout(self.inactivity))),
                Ok(None)
                    if self
                        .replies
                        .overrun
                        .load(std::sync::atomic::Ordering::Relaxed) =>
                {
                    return Some(Err(CallError::Overrun))
                }
                Ok(None) => return Some(Err(CallError::Closed)),
                Ok(Some(msg)) => msg,
            };
            if msg.status == Some(StatusCode::NO_RESPONDERS) {
                return Some(Err(CallError::NoResponders {
                    subject: msg.subject.to_string(),
                }));
            }
            if msg.payload.as_ref() == KEEPALIVE {
                // Keepalives may carry credit for our streaming requests.
                let grant = msg
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(wire_stream::CREDIT))
                    .and_then(|v| v.as_str().parse::<usize>().ok());
                if let (Some(n), Some((credit, _))) = (grant, &self.upload) {
                    credit.add_permits(n.min(Semaphore::MAX_PERMITS - credit.available_permits()));
                }
                continue;
            }
            match ErrorFrame::decode(self.encoding, &msg.payload) {
                Err(s) => return Some(Err(CallError::Decode(s.message().to_owned()))),
                Ok(Some(frame)) if frame.kind == NrpcErrorType::Eos => {
                    if frame.msg_count == self.received {
                        return None;
                    }
                    return Some(Err(CallError::Decode(format!(
                        "stream ended after {} items but the server sent {}",
                        self.received, frame.msg_count
                    ))));
                }
                Ok(Some(frame)) => {
                    let code = reply_code(msg.headers.as_ref());
                    return Some(Err(CallError::Status(frame.into_status(code))));
                }
                Ok(None) => {}
            }
            let item = match T::decode(msg.payload, self.encoding) {
                Ok(item) => item,
                Err(e) => return Some(Err(CallError::Decode(e))),
            };
            self.received += 1;
            self.since_grant += 1;
            if self.since_grant >= self.window / 2 {
                self.grant().await;
            }
            return Some(Ok(item));
        }
    }

    /// Gives the server credit for the items consumed since the last grant.
    async fn grant(&mut self) {
        let mut h = HeaderMap::new();
        h.insert(wire_stream::CREDIT, self.since_grant.to_string().as_str());
        let payload = wire_stream::encode_heartbeat(self.encoding, false);
        let _ = self
            .nats
            .publish_with_headers(self.heartbeat_subject.clone(), h, payload)
            .await;
        self.since_grant = 0;
    }
}

impl ServiceClient {
    /// Publishes the opening request of a stream and starts heartbeats.
    async fn begin(&self, p: Prepared) -> Result<ClientStream, CallError> {
        let window = DEFAULT_WINDOW;
        let mut headers = p.headers.unwrap_or_default();
        headers.insert(wire_stream::STREAM_CREDIT, window.to_string().as_str());
        let replies = self
            .conn
            .request_many_with_capacity(
                p.subject,
                Some(headers),
                p.payload,
                window as usize + SLACK,
            )
            .await?;
        let nats = self.conn.nats().clone();
        let heartbeat_subject = wire_stream::heartbeat_subject(&replies.subject);
        let heartbeat_task = {
            let (nats, subject) = (nats.clone(), heartbeat_subject.clone());
            let payload = wire_stream::encode_heartbeat(p.encoding, false);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
                loop {
                    tick.tick().await;
                    if nats
                        .publish(subject.clone(), payload.clone())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            })
            .abort_handle()
        };
        Ok(ClientStream {
            replies,
            upload: None,
            nats,
            heartbeat_subject,
            heartbeat_task,
            encoding: p.encoding,
            inactivity: p.timeout,
            window,
            received: 0,
            since_grant: 0,
            done: false,
        })
    }

    /// Calls a streamed-reply method and yields its items in order. The
    /// stream ends after the server's end frame (whose item count is
    /// checked); an error ends it too. The call's timeout is the inactivity
    /// timeout: with no message (items or keepalives) for that long the
    /// stream fails with [`CallError::Timeout`]. Dropping the stream
    /// cancels the server's handler.
    pub async fn server_stream<Req: Codec, Resp: Codec>(
        &self,
        method: usize,
        method_params: &[&str],
        request: &Req::Item,
        options: Option<CallOptions>,
    ) -> Result<BoxStream<'static, Result<Resp::Item, CallError>>, CallError> {
        let p = self.prepare::<Req>(
            method,
            method_params,
            request,
            options.unwrap_or_default(),
            Route::Default,
        )?;
        Ok(self.begin(p).await?.into_stream::<Resp>())
    }

    /// Calls a method whose requests stream (client-streaming or
    /// bidirectional; nrpc extension): `requests` are sent within the credit
    /// the server grants, then the end of input; the server's replies stream
    /// back as with [`server_stream`](Self::server_stream).
    pub async fn open_stream<Req: Codec, Resp: Codec>(
        &self,
        method: usize,
        method_params: &[&str],
        requests: BoxStream<'static, Req::Item>,
        options: Option<CallOptions>,
    ) -> Result<BoxStream<'static, Result<Resp::Item, CallError>>, CallError> {
        let p = self.prepare::<crate::codec::Void>(
            method,
            method_params,
            &(),
            options.unwrap_or_default(),
            Route::Default,
        )?;
        let timeout = p.timeout;
        let mut stream = self.begin(p).await?;
        // The server answers with a keepalive naming its stream inbox.
        let accept = match tokio::time::timeout(timeout, stream.replies.rx.recv()).await {
            Err(_) => return Err(CallError::Timeout(timeout)),
            Ok(None) => return Err(CallError::Closed),
            Ok(Some(msg)) => msg,
        };
        if accept.status == Some(StatusCode::NO_RESPONDERS) {
            stream.done = true;
            return Err(CallError::NoResponders {
                subject: accept.subject.to_string(),
            });
        }
        // (A lone 0x00 is the accept, not an error frame.)
        let frame = match accept.payload.as_ref() {
            KEEPALIVE => None,
            payload => ErrorFrame::decode(stream.encoding, payload)
                .map_err(|s| CallError::Decode(s.message().to_owned()))?,
        };
        if let Some(frame) = frame {
            stream.done = true;
            return Err(CallError::Status(
                frame.into_status(reply_code(accept.headers.as_ref())),
            ));
        }
        let header = |name: &str| {
            accept
                .headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_owned())
        };
        let (Some(inbox), Some(credit)) = (
            header(wire_stream::STREAM_INBOX),
            header(wire_stream::CREDIT).and_then(|c| c.parse::<usize>().ok()),
        ) else {
            stream.done = true;
            return Err(CallError::Decode(
                "the server did not accept a request stream (no Nrpc-Stream-Inbox)".into(),
            ));
        };
        let credit = std::sync::Arc::new(Semaphore::new(credit));
        let sender = tokio::spawn(send_requests::<Req>(
            requests,
            stream.nats.clone(),
            inbox,
            stream.encoding,
            credit.clone(),
        ))
        .abort_handle();
        stream.upload = Some((credit, sender));
        Ok(stream.into_stream::<Resp>())
    }
}

/// Sends streaming requests within the server's credit, then `EOS`.
async fn send_requests<Req: Codec>(
    mut requests: BoxStream<'static, Req::Item>,
    nats: async_nats::Client,
    inbox: String,
    encoding: Encoding,
    credit: std::sync::Arc<Semaphore>,
) {
    let inbox = async_nats::Subject::from(inbox);
    let mut sent = 0u32;
    let end = loop {
        let Some(item) = requests.next().await else {
            break ErrorFrame {
                kind: NrpcErrorType::Eos,
                message: String::new(),
                msg_count: sent,
            };
        };
        let payload = match Req::encode(&item, encoding) {
            Ok(p) => p,
            Err(status) => break ErrorFrame::from_status(&status),
        };
        let max = nats.max_payload();
        if max > 0 && payload.len() > max {
            break ErrorFrame::from_status(&crate::Status::resource_exhausted(format!(
                "request item of {} bytes exceeds the NATS max_payload of {max} bytes",
                payload.len()
            )));
        }
        match credit.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return,
        }
        if nats.publish(inbox.clone(), payload).await.is_err() {
            return;
        }
        sent += 1;
    };
    let _ = nats.publish(inbox, end.encode(encoding)).await;
}

impl ClientStream {
    fn into_stream<T: Codec>(self) -> BoxStream<'static, Result<T::Item, CallError>> {
        futures::stream::unfold(self, |mut s| async move {
            let item = s.next::<T>().await?;
            Some((item, s))
        })
        .boxed()
    }
}
