//! A budget for the request bodies the gateway holds. A request holds
//! budget for the body bytes it has passed in (at most the per-request
//! limit: a request stream's older messages were handed on), until its
//! body ends; bytes that do not fit in what is left fail the request at
//! once with `RESOURCE_EXHAUSTED` (`503`) instead of waiting. So uploads
//! that stall just short of the end cannot pin more than the budget.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http_body::Frame;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The gateway's budget of body bytes.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    bytes: Arc<Semaphore>,
    total: usize,
}

/// Why a body was cut: the budget is spent.
pub(crate) fn over_budget(total: usize) -> tonic::Status {
    tonic::Status::resource_exhausted(format!(
        "the gateway holds {total} bytes of request bodies already; retry later"
    ))
}

impl Budget {
    pub(crate) fn new(total: usize) -> Self {
        let total = total.min(Semaphore::MAX_PERMITS);
        Budget {
            bytes: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// `body`, drawing on the budget as its bytes arrive; one request holds
    /// at most `cap` bytes of it.
    pub(crate) fn wrap(&self, body: Body, cap: usize) -> Body {
        crate::tap::tap(
            body,
            Budgeted {
                budget: self.clone(),
                held: None,
                held_bytes: 0,
                cap: cap.max(1),
            },
        )
    }
}

struct Budgeted {
    budget: Budget,
    held: Option<OwnedSemaphorePermit>,
    held_bytes: usize,
    cap: usize,
}

impl Budgeted {
    /// Takes budget for `n` more bytes, giving back what is beyond the cap.
    fn take(&mut self, n: usize) -> Result<(), tonic::Status> {
        let over = |b: &Budget| over_budget(b.total);
        let wanted = (self.held_bytes + n).min(self.cap);
        if wanted > self.held_bytes {
            let more = u32::try_from(wanted - self.held_bytes).map_err(|_| over(&self.budget))?;
            let permit = self
                .budget
                .bytes
                .clone()
                .try_acquire_many_owned(more)
                .map_err(|_| over(&self.budget))?;
            match &mut self.held {
                Some(held) => held.merge(permit),
                None => self.held = Some(permit),
            }
            self.held_bytes = wanted;
        }
        Ok(())
    }
}

impl crate::tap::Tap for Budgeted {
    fn frame(&mut self, frame: &Frame<Bytes>) -> Result<(), axum::Error> {
        match frame.data_ref() {
            Some(data) => self.take(data.len()).map_err(axum::Error::new),
            None => Ok(()),
        }
    }

    /// All of it arrived (or it failed): what it held is the caller's to
    /// use now, or nobody's.
    fn end(&mut self) {
        self.held = None;
        self.held_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util_free::collect;

    /// Reads a body to its end or first error (no http-body-util needed).
    mod http_body_util_free {
        use super::*;
        use http_body::Body as _;
        use std::pin::Pin;
        pub(super) async fn collect(mut body: Body) -> Result<usize, String> {
            let mut n = 0;
            while let Some(frame) =
                std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
            {
                let frame = frame.map_err(|e| e.to_string())?;
                n += frame.data_ref().map_or(0, |d| d.len());
            }
            Ok(n)
        }
    }

    fn chunks(sizes: &[usize]) -> Body {
        let items: Vec<Result<Bytes, std::io::Error>> = sizes
            .iter()
            .map(|&n| Ok(Bytes::from(vec![0u8; n])))
            .collect();
        Body::from_stream(futures::stream::iter(items))
    }

    #[tokio::test]
    async fn bodies_draw_on_the_budget_and_give_it_back() {
        let budget = Budget::new(100);
        // Ends: gives everything back.
        assert_eq!(collect(budget.wrap(chunks(&[60, 30]), 1000)).await, Ok(90));
        assert_eq!(budget.bytes.available_permits(), 100);
        // A stream past its cap holds only the cap.
        assert_eq!(collect(budget.wrap(chunks(&[40; 10]), 50)).await, Ok(400));
        // Over what is left: refused at once.
        let e = collect(budget.wrap(chunks(&[60, 60]), 1000)).await;
        assert!(e.is_err_and(|e| e.contains("retry later")));
        assert_eq!(budget.bytes.available_permits(), 100);
    }

    #[tokio::test]
    async fn a_stalled_body_keeps_what_it_holds() {
        let budget = Budget::new(100);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let stalled = budget.wrap(Body::from_stream(tokio_stream_free(rx)), 1000);
        let reading = tokio::spawn(collect(stalled));
        tx.send(Ok(Bytes::from(vec![0u8; 80]))).await.ok();
        // Once it holds 80, another body cannot take 30.
        while budget.bytes.available_permits() > 20 {
            tokio::task::yield_now().await;
        }
        assert!(collect(budget.wrap(chunks(&[30]), 1000)).await.is_err());
        drop(tx);
        assert_eq!(reading.await.ok(), Some(Ok(80)));
        assert_eq!(budget.bytes.available_permits(), 100);
    }

    fn tokio_stream_free(
        rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    ) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
        futures::stream::unfold(rx, |mut rx| async move { Some((rx.recv().await?, rx)) })
    }
}
