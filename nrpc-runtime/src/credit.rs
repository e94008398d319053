//! Waiting for stream credit: the async face of `nrpc_wire::stream::SendWindow`,
//! shared by the server's [`Sink`](crate::Sink) and the client's request
//! sender.

use std::sync::Mutex;

use nrpc_wire::stream::SendWindow;
use tokio::sync::Notify;

/// A [`SendWindow`] that senders wait on and grants wake.
#[derive(Debug)]
pub(crate) struct Credit {
    window: Mutex<SendWindow>,
    granted: Notify,
}

impl Credit {
    /// Credit from the receiver's initial window (`None`: no flow control).
    pub(crate) fn new(initial: Option<u32>) -> Self {
        Self {
            window: Mutex::new(SendWindow::new(initial)),
            granted: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SendWindow> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until one item may be sent, and counts it.
    pub(crate) async fn acquire(&self) {
        loop {
            let granted = self.granted.notified();
            tokio::pin!(granted);
            // Registered before checking, so a grant in between is not missed.
            granted.as_mut().enable();
            if self.lock().try_send() {
                return;
            }
            granted.await;
        }
    }

    /// The receiver granted `n` more items.
    pub(crate) fn grant(&self, n: u32) {
        self.lock().grant(n);
        self.granted.notify_waiters();
    }

    /// Items that may still be sent (`None` without flow control).
    pub(crate) fn available(&self) -> Option<u64> {
        self.lock().available()
    }

    /// Items sent so far.
    pub(crate) fn sent(&self) -> u64 {
        self.lock().sent()
    }

    /// The frame that ends the stream (`EOS` with the count).
    pub(crate) fn end(&self) -> nrpc_wire::ErrorFrame {
        self.lock().end()
    }
}
