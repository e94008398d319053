//! The client half of streamed replies: heartbeats out, keepalives and
//! items in, credit granted as the caller consumes, `lastbeat` on drop.

use std::time::Duration;

use async_nats::{HeaderMap, StatusCode};
use futures::stream::BoxStream;
use futures::StreamExt;

use super::router::Replies;
use super::{reply_code, CallError, CallOptions, Route, ServiceClient};
use crate::codec::Codec;
use crate::status::NrpcErrorType;
use crate::wire::stream::{self as wire_stream, DEFAULT_WINDOW, HEARTBEAT_INTERVAL, KEEPALIVE};
use crate::wire::{Encoding, ErrorFrame};

/// Reply messages buffered beyond the window (keepalives, the end frame).
const SLACK: usize = 64;

struct ClientStream {
    replies: Replies,
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
                Ok(None) => return Some(Err(CallError::Closed)),
                Ok(Some(msg)) => msg,
            };
            if msg.status == Some(StatusCode::NO_RESPONDERS) {
                return Some(Err(CallError::NoResponders {
                    subject: msg.subject.to_string(),
                }));
            }
            if msg.payload.as_ref() == KEEPALIVE {
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
        let options = options.unwrap_or_default();
        let p = self.prepare::<Req>(method, method_params, request, options, Route::Default)?;
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
        let state = ClientStream {
            replies,
            nats,
            heartbeat_subject,
            heartbeat_task,
            encoding: p.encoding,
            inactivity: p.timeout,
            window,
            received: 0,
            since_grant: 0,
            done: false,
        };
        Ok(futures::stream::unfold(state, |mut s| async move {
            let item = s.next::<Resp>().await?;
            Some((item, s))
        })
        .boxed())
    }
}
