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
        let mut key = self.keys.build_hasher();
        match (subject, address) {
            (Some(s), _) => (0u8, s).hash(&mut key),
            (None, Some(a)) => (1u8, a).hash(&mut key),
            (None, None) => 2u8.hash(&mut key),
        }
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
