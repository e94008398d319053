//! [`Response`]: a message with metadata headers, what a unary handler
//! returns and what a client's `…_with` call gives back.

use async_nats::HeaderMap;

/// A message with its metadata headers.
#[derive(Debug, Clone)]
pub struct Response<T> {
    message: T,
    metadata: HeaderMap,
}

impl<T> Response<T> {
    /// A response without metadata.
    pub fn new(message: T) -> Self {
        Self {
            message,
            metadata: HeaderMap::new(),
        }
    }

    /// A response with metadata.
    pub fn from_parts(message: T, metadata: HeaderMap) -> Self {
        Self { message, metadata }
    }

    /// Adds a metadata header (builder style, for handlers).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.metadata.append(name, value);
        self
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// The metadata headers.
    pub fn metadata(&self) -> &HeaderMap {
        &self.metadata
    }

    /// Mutable metadata headers.
    pub fn metadata_mut(&mut self) -> &mut HeaderMap {
        &mut self.metadata
    }

    /// The message, without metadata.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// Message and metadata.
    pub fn into_parts(self) -> (T, HeaderMap) {
        (self.message, self.metadata)
    }
}
