//! [`Response`]: a message with metadata headers, what a unary handler
//! returns and what a client's `…_with` call gives back.

use async_nats::header::{HeaderName, HeaderValue};
use async_nats::HeaderMap;

/// A message with its metadata headers.
#[derive(Debug, Clone)]
pub struct Response<T> {
    message: T,
    metadata: HeaderMap,
    /// The first header [`with_header`](Self::with_header) could not add.
    invalid_header: Option<String>,
}

impl<T> Response<T> {
    /// A response without metadata.
    pub fn new(message: T) -> Self {
        Self::from_parts(message, HeaderMap::new())
    }

    /// A response with metadata.
    pub fn from_parts(message: T, metadata: HeaderMap) -> Self {
        Self {
            message,
            metadata,
            invalid_header: None,
        }
    }

    /// Adds a metadata header (builder style, for handlers). A name or
    /// value NATS headers cannot carry (a name with spaces, `:` or
    /// non-ASCII; a value with CR or LF) is not added; a handler's reply
    /// with one becomes an `INTERNAL` error naming it, so the mistake shows.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        match (name.parse::<HeaderName>(), value.parse::<HeaderValue>()) {
            (Ok(n), Ok(v)) => self.metadata.append(n, v),
            _ if self.invalid_header.is_some() => {}
            (Err(_), _) => self.invalid_header = Some(format!("invalid header name {name:?}")),
            (_, Err(_)) => {
                self.invalid_header = Some(format!("invalid value for header {name}: {value:?}"));
            }
        }
        self
    }

    /// The first header [`with_header`](Self::with_header) refused, if any.
    pub fn invalid_header(&self) -> Option<&str> {
        self.invalid_header.as_deref()
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

    /// The same metadata with the message changed by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            message: f(self.message),
            metadata: self.metadata,
            invalid_header: self.invalid_header,
        }
    }

    /// Message and metadata.
    pub fn into_parts(self) -> (T, HeaderMap) {
        (self.message, self.metadata)
    }
}
