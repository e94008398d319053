//! Bodies the gateway watches as they pass: one wrapper, and what each
//! watcher does with a frame (draw on the body budget, note a gRPC status
//! for the audit log) and at the end; what it holds (a request counted as
//! in progress, an audit record) lives as long as the body.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http_body::Frame;

/// What watches a body.
pub(crate) trait Tap: Send + Unpin + 'static {
    /// Sees each frame; an error ends the body with it.
    fn frame(&mut self, _frame: &Frame<Bytes>) -> Result<(), axum::Error> {
        Ok(())
    }

    /// The body ended (all of it passed, or it failed).
    fn end(&mut self) {}
}

/// `body`, watched by `tap`.
pub(crate) fn tap(body: Body, tap: impl Tap) -> Body {
    Body::new(Tapped { body, tap })
}

struct Tapped<T> {
    body: Body,
    tap: T,
}

impl<T: Tap> http_body::Body for Tapped<T> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match this.tap.frame(&frame) {
                Ok(()) => Poll::Ready(Some(Ok(frame))),
                Err(e) => {
                    this.tap.end();
                    Poll::Ready(Some(Err(e)))
                }
            },
            Poll::Ready(None) => {
                this.tap.end();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                this.tap.end();
                Poll::Ready(Some(Err(e)))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
