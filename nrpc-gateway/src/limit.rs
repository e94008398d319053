//! How often a caller may call: a token bucket per caller and method (the
//! verified subject, or the client's address for anonymous callers),
//! refilled at a steady rate up to a burst. Past it a call is
//! `RESOURCE_EXHAUSTED` (`429` with `Retry-After`) at once; other callers
//! and other methods are not affected.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use nrpc_runtime::Code;

use crate::call::Failure;

/// A hasher fed with who calls: the verified subject, else the client's
/// address (keyed per process, so callers cannot aim at others' keys).
fn caller_key(
    keys: &std::collections::hash_map::RandomState,
    subject: Option<&str>,
    address: Option<IpAddr>,
) -> std::collections::hash_map::DefaultHasher {
    let mut key = keys.build_hasher();
    match (subject, address) {
        (Some(s), _) => (0u8, s).hash(&mut key),
        (None, Some(a)) => (1u8, a).hash(&mut key),
        (None, None) => 2u8.hash(&mut key),
    }
    key
}

/// Rate limits per caller and method.
#[derive(Debug)]
pub(crate) struct RateLimits {
    /// Buckets by a keyed hash of (caller, method): nothing allocated per
    /// call, and callers cannot aim at another's bucket (the hash's key is
    /// random per process).
    limiter: DefaultKeyedRateLimiter<u64>,
    keys: std::collections::hash_map::RandomState,
    checks: AtomicU64,
}

/// Buckets nobody used lately are forgotten after this many checks.
const SWEEP_EVERY: u64 = 4096;

impl RateLimits {
    pub(crate) fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        RateLimits {
            limiter: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(per_second).allow_burst(burst),
            ),
            keys: std::collections::hash_map::RandomState::new(),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes a token for `subject` (or `address`) calling `method` of
    /// `service`, or says when to come back.
    pub(crate) fn check(
        &self,
        subject: Option<&str>,
        address: Option<IpAddr>,
        service: &str,
        method: &str,
    ) -> Result<(), Failure> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        let mut key = caller_key(&self.keys, subject, address);
        (service, method).hash(&mut key);
        self.limiter.check_key(&key.finish()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Failure::new(
                Code::ResourceExhausted,
                format!(
                    "too many calls of {service}/{method}; retry in {} ms",
                    wait.as_millis().max(1)
                ),
            )
            .with_retry_after(wait.max(Duration::from_millis(1)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_per_caller_and_method() {
        let one = NonZeroU32::MIN;
        let limits = RateLimits::new(one, NonZeroU32::new(2).unwrap_or(one));
        let m = "C";
        assert!(limits.check(Some("ada"), None, "a.B", m).is_ok());
        assert!(limits.check(Some("ada"), None, "a.B", m).is_ok());
        let over = limits.check(Some("ada"), None, "a.B", m).err();
        assert_eq!(over.as_ref().map(|f| f.code), Some(Code::ResourceExhausted));
        assert!(over
            .and_then(|f| f.retry_after)
            .is_some_and(|d| d <= Duration::from_secs(1)));
        // Others, and ada's other methods, have buckets of their own.
        assert!(limits.check(Some("bob"), None, "a.B", m).is_ok());
        assert!(limits.check(Some("ada"), None, "a.B", "D").is_ok());
        let here: IpAddr = [127, 0, 0, 1].into();
        assert!(limits.check(None, Some(here), "a.B", m).is_ok());
    }
}

/// How many calls each caller may have in progress at once (streams and
/// event subscriptions included, until their response ends).
#[derive(Debug)]
pub(crate) struct InProgress {
    max: u32,
    keys: std::collections::hash_map::RandomState,
    callers:
        std::sync::Mutex<std::collections::HashMap<u64, std::sync::Arc<tokio::sync::Semaphore>>>,
}

/// A call in progress, counted against its caller until dropped.
pub(crate) type Slot = tokio::sync::OwnedSemaphorePermit;

impl InProgress {
    pub(crate) fn new(max: NonZeroU32) -> Self {
        InProgress {
            max: max.get(),
            keys: std::collections::hash_map::RandomState::new(),
            callers: Default::default(),
        }
    }

    /// A slot for a call of `subject` (or `address`), or
    /// `RESOURCE_EXHAUSTED` if it has as many calls in progress as allowed.
    pub(crate) fn enter(
        &self,
        subject: Option<&str>,
        address: Option<IpAddr>,
    ) -> Result<Slot, Failure> {
        let key = caller_key(&self.keys, subject, address);
        let mut callers = self.callers.lock().unwrap_or_else(|e| e.into_inner());
        // Callers with nothing in progress are forgotten now and then.
        if callers.len() >= 4096 {
            let max = self.max as usize;
            callers.retain(|_, s| s.available_permits() < max);
        }
        let semaphore = callers
            .entry(key.finish())
            .or_insert_with(|| std::sync::Arc::new(tokio::sync::Semaphore::new(self.max as usize)))
            .clone();
        drop(callers);
        semaphore.try_acquire_owned().map_err(|_| {
            Failure::new(
                Code::ResourceExhausted,
                format!("the caller has {} calls in progress already", self.max),
            )
            .with_retry_after(Duration::from_secs(1))
        })
    }
}

/// Where a call's slot is kept: with its response, until the response has
/// been sent (or abandoned).
#[derive(Debug, Clone, Default)]
pub(crate) struct SlotHolder(std::sync::Arc<std::sync::Mutex<Option<Slot>>>);

impl SlotHolder {
    pub(crate) fn hold(&self, slot: Slot) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(slot);
    }
}

impl crate::tap::Tap for SlotHolder {}

#[cfg(test)]
mod in_progress {
    use super::*;

    #[test]
    fn each_caller_has_its_own_slots() {
        let limit = InProgress::new(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        let a1 = limit.enter(Some("ada"), None);
        let a2 = limit.enter(Some("ada"), None);
        assert!(a1.is_ok() && a2.is_ok());
        assert!(limit.enter(Some("ada"), None).is_err());
        assert!(limit.enter(Some("bob"), None).is_ok());
        drop(a1);
        assert!(limit.enter(Some("ada"), None).is_ok());
    }
}
