//! Cancellations that overtake their request: kept a short while, so the
//! request is dropped when it comes.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

/// Cancellations that found no running request. A cancellation arrives
/// on a subscription of its own, so it can be taken before the request it
/// cancels when both are waiting (the caller gave up within a few
/// milliseconds); the request is then dropped when it comes. Kept for
/// [`EarlyCancels::KEEP`] and at most [`EarlyCancels::MAX`] (most are for
/// requests that already finished, or that another instance took).
#[derive(Debug, Default)]
pub(super) struct EarlyCancels {
    /// Reply subjects in arrival order, with when they arrived.
    order: VecDeque<(Instant, String)>,
    subjects: HashSet<String>,
}

impl EarlyCancels {
    /// How long a cancellation waits for its request.
    const KEEP: Duration = Duration::from_secs(5);
    /// The most kept at once; the oldest go first.
    const MAX: usize = 4096;

    pub(super) fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }

    pub(super) fn insert(&mut self, reply: &str, now: Instant) {
        self.expire(now);
        if self.order.len() >= Self::MAX {
            if let Some((_, old)) = self.order.pop_front() {
                self.subjects.remove(&old);
            }
        }
        if self.subjects.insert(reply.to_owned()) {
            self.order.push_back((now, reply.to_owned()));
        }
    }

    /// Whether `reply` was cancelled (and from now on, it is forgotten).
    pub(super) fn take(&mut self, reply: &str, now: Instant) -> bool {
        self.expire(now);
        self.subjects.remove(reply)
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < Self::KEEP {
                break;
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.subjects.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_early_cancellation_drops_its_request_once() {
        let now = Instant::now();
        let mut early = EarlyCancels::default();
        assert!(early.is_empty());
        early.insert("_INBOX.a.1", now);
        assert!(!early.take("_INBOX.a.2", now));
        assert!(early.take("_INBOX.a.1", now));
        assert!(!early.take("_INBOX.a.1", now), "once");
    }

    #[test]
    fn early_cancellations_expire_and_stay_bounded() {
        let now = Instant::now();
        let mut early = EarlyCancels::default();
        early.insert("old", now);
        assert!(!early.take("old", now + EarlyCancels::KEEP));
        for i in 0..EarlyCancels::MAX + 10 {
            early.insert(&i.to_string(), now);
        }
        assert_eq!(early.subjects.len(), EarlyCancels::MAX);
        assert_eq!(early.order.len(), EarlyCancels::MAX);
        assert!(!early.take("0", now), "the oldest went first");
        assert!(early.take(&(EarlyCancels::MAX + 9).to_string(), now));
        // A removed subject whose entry is still queued expires cleanly.
        early.expire(now + EarlyCancels::KEEP);
        assert!(early.is_empty() && early.order.is_empty());
    }
}
