//! Publishing answers: a reply with its metadata, or an error frame with
//! the error headers (`nrpc_wire::stream::OutFrame::error`). Replies to
//! broadcast and direct calls name the answering instance.

use async_nats::Subject;
use nrpc_wire::route::Delivery;
use nrpc_wire::stream::OutFrame;
use nrpc_wire::{headers, Encoding, Status};

use super::call::Reply;

/// Publishes the answers of one server instance.
#[derive(Debug)]
pub(super) struct Replier {
    pub(super) nats: async_nats::Client,
    /// This instance's id.
    pub(super) instance: String,
}

impl Replier {
    /// Publishes a handler's reply (a plain PUB when it has no headers).
    /// A reply too large for NATS becomes a `RESOURCE_EXHAUSTED` error
    /// reply, so the caller learns at once instead of waiting out its
    /// timeout.
    pub(super) async fn reply(
        &self,
        to: Subject,
        reply: Reply,
        encoding: Encoding,
        delivery: Delivery,
    ) -> Result<(), Status> {
        let mut metadata = reply.metadata;
        if delivery != Delivery::Shared {
            metadata.insert(headers::INSTANCE, self.instance.as_str());
        }
        let headers = (!metadata.is_empty()).then_some(&metadata);
        if let Err(e) = crate::limits::check(&self.nats, headers, reply.payload.len()) {
            let status = Status::resource_exhausted(format!(
                "reply of {} bytes exceeds the NATS max_payload of {} bytes",
                e.size, e.max
            ));
            self.error(to, encoding, &status, delivery).await;
            return Err(status);
        }
        let sent = if metadata.is_empty() {
            self.nats.publish(to, reply.payload).await
        } else {
            self.nats
                .publish_with_headers(to, metadata, reply.payload)
                .await
        };
        if let Err(e) = sent {
            tracing::warn!("nrpc: reply not sent: {e}");
        }
        Ok(())
    }

    /// Publishes an error reply: the nRPC error frame in the caller's
    /// encoding, with the exact code and the NATS services error headers.
    pub(super) async fn error(
        &self,
        to: Subject,
        encoding: Encoding,
        status: &Status,
        delivery: Delivery,
    ) {
        let mut frame = OutFrame::error(encoding, status);
        if delivery != Delivery::Shared {
            frame
                .headers
                .push((headers::INSTANCE, self.instance.clone()));
        }
        if let Err(e) = crate::message::publish(&self.nats, to, frame).await {
            tracing::warn!("nrpc: error reply not sent: {e}");
        }
    }
}
