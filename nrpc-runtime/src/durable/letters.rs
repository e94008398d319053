//! Reading and acting on a service's dead letters: list, show, redrive
//! (publish the original again, with a fresh id, then remove the letter)
//! and remove — what `nrpc dlq` does.

use async_nats::jetstream::message::StreamMessage;
use bytes::Bytes;
use nrpc_wire::durable::{added_header, dead_letter_stream, headers, redrive_id, Reason};

use super::{Durable, DurableError, Stored};
use crate::HeaderMap;

/// A dead letter as its stream holds it.
#[derive(Debug, Clone)]
pub struct Letter {
    /// Its sequence in the dead-letter stream (what `show`, `redrive` and
    /// `purge` name it by).
    pub sequence: u64,
    /// Why it is here (`None` if the header is missing or unknown).
    pub reason: Option<Reason>,
    /// The last failure's status code name, if there was one.
    pub code: Option<String>,
    /// The last failure's message, if there was one.
    pub message: Option<String>,
    /// The subject the original was published to.
    pub subject: String,
    /// The durable stream that held it.
    pub stream: String,
    /// Its sequence there.
    pub stream_sequence: u64,
    /// How many times it was delivered.
    pub deliveries: u64,
    /// The consumer that gave up on it.
    pub consumer: String,
    /// When, in Unix milliseconds.
    pub time_ms: u128,
    /// The original's own headers (without the dead letter's).
    pub headers: HeaderMap,
    /// The original payload.
    pub payload: Bytes,
}

impl Letter {
    fn of(message: StreamMessage) -> Self {
        let get = |name: &str| message.headers.get(name).map(|v| v.as_str().to_owned());
        let number = |name: &str| get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut own = HeaderMap::new();
        for (name, values) in message.headers.iter() {
            if added_header(name.as_ref()) {
                continue;
            }
            for value in values {
                own.append(name.clone(), value.clone());
            }
        }
        Letter {
            sequence: message.sequence,
            reason: get(headers::REASON).and_then(|r| Reason::parse(r.as_str())),
            code: get(headers::CODE),
            message: get(headers::MESSAGE),
            subject: get(headers::SUBJECT).unwrap_or_default(),
            stream: get(headers::STREAM).unwrap_or_default(),
            stream_sequence: number(headers::SEQUENCE),
            deliveries: number(headers::DELIVERIES),
            consumer: get(headers::CONSUMER).unwrap_or_default(),
            time_ms: get(headers::TIME).and_then(|t| t.parse().ok()).unwrap_or(0),
            headers: own,
            payload: message.payload,
        }
    }
}

impl Durable {
    /// The first `limit` dead letters of `service` (its full name), oldest
    /// first; none if it has no dead-letter stream yet.
    pub async fn dead_letters(
        &self,
        service: &str,
        limit: usize,
    ) -> Result<Vec<Letter>, DurableError> {
        let js_error = |e: &dyn std::fmt::Display| DurableError::JetStream(e.to_string());
        let mut stream = match self.js.get_stream(dead_letter_stream(service)).await {
            Ok(stream) => stream,
            Err(e) if super::is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(js_error(&e)),
        };
        let state = stream.info().await.map_err(|e| js_error(&e))?.state.clone();
        let mut out = Vec::new();
        let mut sequence = state.first_sequence;
        while out.len() < limit && state.messages > 0 && sequence <= state.last_sequence {
            // Removed ones leave gaps.
            if let Ok(message) = stream.get_raw_message(sequence).await {
                out.push(Letter::of(message));
            }
            sequence += 1;
        }
        Ok(out)
    }

    /// Dead letter `sequence` of `service`.
    pub async fn dead_letter(&self, service: &str, sequence: u64) -> Result<Letter, DurableError> {
        let stream = self.letters(service).await?;
        stream
            .get_raw_message(sequence)
            .await
            .map(Letter::of)
            .map_err(|e| DurableError::JetStream(format!("dead letter {sequence}: {e}")))
    }

    /// Publishes dead letter `sequence` of `service` again to its original
    /// subject — with `payload` instead of its own if given — under a
    /// fresh message id (the original's would be dropped as a duplicate
    /// within the dedup window), awaiting the broker; then removes the
    /// letter. Its delivery count starts again.
    pub async fn redrive(
        &self,
        service: &str,
        sequence: u64,
        payload: Option<Bytes>,
        timeout: std::time::Duration,
    ) -> Result<Stored, DurableError> {
        let letter = self.dead_letter(service, sequence).await?;
        if letter.subject.is_empty() {
            return Err(DurableError::JetStream(format!(
                "dead letter {sequence} does not say its subject"
            )));
        }
        let id = redrive_id(&nuid::next().to_string());
        let stored = self
            .publish(
                &letter.subject,
                Some(letter.headers),
                payload.unwrap_or(letter.payload),
                &id,
                timeout,
            )
            .await?;
        self.remove_dead_letters(service, Some(sequence)).await?;
        Ok(stored)
    }

    /// Removes dead letter `sequence` of `service`, or all of them; returns
    /// how many went.
    pub async fn remove_dead_letters(
        &self,
        service: &str,
        sequence: Option<u64>,
    ) -> Result<u64, DurableError> {
        let js_error = |e: &dyn std::fmt::Display| DurableError::JetStream(e.to_string());
        let stream = self.letters(service).await?;
        match sequence {
            Some(sequence) => stream
                .delete_message(sequence)
                .await
                .map(|_| 1)
                .map_err(|e| DurableError::JetStream(format!("dead letter {sequence}: {e}"))),
            None => stream
                .purge()
                .await
                .map(|purged| purged.purged)
                .map_err(|e| js_error(&e)),
        }
    }

    async fn letters(
        &self,
        service: &str,
    ) -> Result<async_nats::jetstream::stream::Stream, DurableError> {
        let name = dead_letter_stream(service);
        self.js.get_stream(&name).await.map_err(|e| {
            if super::is_not_found(&e) {
                DurableError::JetStream(format!(
                    "{service} has no dead letters ({name} does not exist)"
                ))
            } else {
                DurableError::JetStream(e.to_string())
            }
        })
    }
}
