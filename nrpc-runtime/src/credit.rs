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
    pub(crate) fn new(initial: Option<u64>) -> Self {
        Self {
            window: Mutex::new(SendWindow::new(initial)),
            granted: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SendWindow> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until one item may be sent (call [`on_sent`](Self::on_sent)
    /// once it is handed to the connection).
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

    /// Takes credit for one item if there is some, without waiting.
    pub(crate) fn try_acquire(&self) -> bool {
        self.lock().try_send()
    }

    /// The receiver announced its cumulative limit.
    pub(crate) fn set_limit(&self, limit: u64) {
        self.lock().set_limit(limit);
        self.granted.notify_waiters();
    }

    /// Items that may still be sent (`None` without flow control).
    pub(crate) fn available(&self) -> Option<u64> {
        self.lock().available()
    }

    /// `n` acquired items were handed to the connection.
    pub(crate) fn on_sent(&self, n: u64) {
        let mut window = self.lock();
        for _ in 0..n {
            window.on_sent();
        }
    }

    /// Items acquired so far (handed over or about to be).
    pub(crate) fn reserved(&self) -> u64 {
        self.lock().reserved()
    }

    /// Items sent so far.
    pub(crate) fn sent(&self) -> u64 {
        self.lock().sent()
    }
}
