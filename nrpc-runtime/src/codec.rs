//! Message encoding for both [`Encoding`]s.
//!
//! Generated code names a codec per method side: [`Proto<T>`] for a prost
//! message, [`Void`] where the .proto says `nrpc.Void` (the Rust side sees
//! `()`). JSON follows the protobuf JSON mapping through the message's
//! descriptor, registered by generated code with [`register_descriptors`].

use std::marker::PhantomData;
use std::sync::Mutex;

use bytes::Bytes;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};

use nrpc_wire::{Encoding, Status};

/// Why a payload did not decode: what went wrong, with the decoder's own
/// error as its [`source`](std::error::Error::source) when there is one.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DecodeError {
    /// A failure described by `message` alone.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// A failure of a decoder: its error is the source, its text the message.
    pub fn from_source(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            message: source.to_string(),
            source: Some(Box::new(source)),
        }
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Encodes and decodes one message type.
pub trait Codec: Send + Sync + 'static {
    /// The Rust value the user sees.
    type Item: Send + Sync + 'static;
    /// Encodes a value.
    fn encode(item: &Self::Item, encoding: Encoding) -> Result<Bytes, Status>;
    /// Decodes a value; a failure is an `INVALID_ARGUMENT` status for
    /// requests and an `INTERNAL` one for replies (decided by the caller).
    fn decode(payload: Bytes, encoding: Encoding) -> Result<Self::Item, DecodeError>;
}

/// Codec for a prost message type.
#[derive(Debug)]
pub struct Proto<T>(PhantomData<fn() -> T>);

/// Codec for `nrpc.Void`: `()` in Rust, an empty body (protobuf) or `{}`
/// (JSON) on the wire.
#[derive(Debug)]
pub struct Void;

fn descriptor<T: prost::Name>() -> Result<MessageDescriptor, String> {
    register_linked();
    DescriptorPool::global()
        .get_message_by_name(&T::full_name())
        .ok_or_else(|| {
            format!(
                "no descriptor registered for {}: JSON unavailable",
                T::full_name()
            )
        })
}

impl<T> Codec for Proto<T>
where
    T: prost::Message + prost::Name + Default + Send + Sync + 'static,
{
    type Item = T;

    fn encode(item: &T, encoding: Encoding) -> Result<Bytes, Status> {
        match encoding {
            Encoding::Protobuf => Ok(Bytes::from(item.encode_to_vec())),
            Encoding::Json => {
                let desc = descriptor::<T>().map_err(Status::internal)?;
                let mut dynamic = DynamicMessage::new(desc);
                dynamic
                    .transcode_from(item)
                    .map_err(|e| Status::internal(format!("JSON encoding failed: {e}")))?;
                serde_json::to_vec(&dynamic)
                    .map(Bytes::from)
                    .map_err(|e| Status::internal(format!("JSON encoding failed: {e}")))
            }
        }
    }

    fn decode(payload: Bytes, encoding: Encoding) -> Result<T, DecodeError> {
        match encoding {
            Encoding::Protobuf => T::decode(payload).map_err(DecodeError::from_source),
            Encoding::Json => {
                let desc = descriptor::<T>().map_err(DecodeError::new)?;
                let mut de = serde_json::Deserializer::from_slice(&payload);
                let dynamic = DynamicMessage::deserialize(desc, &mut de)
                    .and_then(|m| de.end().map(|()| m))
                    .map_err(DecodeError::from_source)?;
                dynamic
                    .transcode_to::<T>()
                    .map_err(DecodeError::from_source)
            }
        }
    }
}

impl Codec for Void {
    type Item = ();

    fn encode(_: &(), encoding: Encoding) -> Result<Bytes, Status> {
        Ok(match encoding {
            Encoding::Protobuf => Bytes::new(),
            Encoding::Json => Bytes::from_static(b"{}"),
        })
    }

    fn decode(payload: Bytes, encoding: Encoding) -> Result<(), DecodeError> {
        match encoding {
            // Unknown fields are skipped, as for any protobuf message.
            Encoding::Protobuf => prost::Message::decode(payload)
                .map(|crate::proto::Void {}| ())
                .map_err(|e: prost::DecodeError| DecodeError::from_source(e)),
            Encoding::Json if payload.is_empty() => Ok(()),
            Encoding::Json => match serde_json::from_slice::<serde_json::Value>(&payload) {
                Ok(serde_json::Value::Object(_)) => Ok(()),
                Ok(other) => Err(DecodeError::new(format!(
                    "expected a JSON object, got {other}"
                ))),
                Err(e) => Err(DecodeError::from_source(e)),
            },
        }
    }
}

/// Codec that passes bytes through unchanged, for callers that encode and
/// decode messages themselves (tools that learn the types at run time).
#[derive(Debug)]
pub struct Raw;

impl Codec for Raw {
    type Item = Bytes;

    fn encode(item: &Bytes, _: Encoding) -> Result<Bytes, Status> {
        Ok(item.clone())
    }

    fn decode(payload: Bytes, _: Encoding) -> Result<Bytes, DecodeError> {
        Ok(payload)
    }
}

static REGISTERED: Mutex<Vec<&'static [u8]>> = Mutex::new(Vec::new());

/// A descriptor set generated into the program: nrpc-codegen submits each
/// compile's set, so the messages it generated are known for JSON and
/// schemas even when no generated client or server is ever made (a
/// service defined with `#[nats_service]` using them).
#[doc(hidden)]
#[derive(Debug)]
pub struct LinkedDescriptors(pub &'static [u8]);

inventory::collect!(LinkedDescriptors);

/// Registers every descriptor set generated into the program, once.
pub(crate) fn register_linked() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for linked in inventory::iter::<LinkedDescriptors> {
            register_descriptors(linked.0);
        }
    });
}

/// Adds an encoded `FileDescriptorSet` to the global descriptor pool once
/// (generated clients and servers call this so JSON encoding can find
/// their messages).
pub fn register_descriptors(file_descriptor_set: &'static [u8]) {
    let mut done = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    // Each generated file embeds its set once; two files of one build
    // embed equal sets, which are registered once too.
    if done
        .iter()
        .any(|d| std::ptr::eq(*d, file_descriptor_set) || *d == file_descriptor_set)
    {
        return;
    }
    done.push(file_descriptor_set);
    if let Err(e) = DescriptorPool::decode_global_file_descriptor_set(file_descriptor_set) {
        tracing::warn!("nrpc: could not register descriptors, JSON encoding unavailable: {e}");
    }
}
