//! How long callers waited for a pooled connection: a small lock-free histogram.
//!
//! Every checkout records its wait (from the call to the connection in hand, both queues
//! included) in microseconds, in log-linear buckets: exact below 16 µs, then eight buckets
//! per power of two, so a quantile read back is at most 1/8 above the true value. The
//! maximum is kept exactly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two.
const SUB: u32 = 8;
/// Values below this many microseconds get a bucket each.
const LINEAR: u64 = 16;
/// Powers of two covered above the linear part: up to 2^44 µs (about 200 days).
const POWERS: u32 = 40;
const BUCKETS: usize = LINEAR as usize + (POWERS * SUB) as usize;

/// The checkout waits of a pool since it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckoutWaits {
    /// Checkouts that got a connection.
    pub count: u64,
    /// Half of them waited at most this long (within 1/8).
    pub median: Duration,
    /// 99 % of them waited at most this long (within 1/8).
    pub p99: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl std::fmt::Display for CheckoutWaits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} checkouts, wait median {:.1?}, p99 {:.1?}, max {:.1?}",
            self.count, self.median, self.p99, self.max
        )
    }
}

/// The histogram behind [`CheckoutWaits`].
#[derive(Debug)]
pub(crate) struct WaitHistogram {
    buckets: Box<[AtomicU64]>,
    max_micros: AtomicU64,
}

impl Default for WaitHistogram {
    fn default() -> Self {
        WaitHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max_micros: AtomicU64::new(0),
        }
    }
}

/// The bucket of `micros`.
fn bucket(micros: u64) -> usize {
    if micros < LINEAR {
        return micros as usize;
    }
    let power = 63 - micros.leading_zeros(); // >= 4
    let sub = (micros >> (power - 3)) & u64::from(SUB - 1);
    let index = LINEAR as usize + ((power - 4) * SUB) as usize + sub as usize;
    index.min(BUCKETS - 1)
}

/// The largest value bucket `index` holds.
fn upper(index: usize) -> u64 {
    if index < LINEAR as usize {
        return index as u64;
    }
    let rest = (index - LINEAR as usize) as u32;
    let power = rest / SUB + 4;
    let sub = u64::from(rest % SUB);
    ((SUB as u64 + sub + 1) << (power - 3)) - 1
}

impl WaitHistogram {
    /// Records one wait.
    pub(crate) fn record(&self, wait: Duration) {
        let micros = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket(micros)].fetch_add(1, Ordering::Relaxed);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    /// The waits so far.
    pub(crate) fn snapshot(&self) -> CheckoutWaits {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count: u64 = counts.iter().sum();
        let max = self.max_micros.load(Ordering::Relaxed);
        let quantile = |q: f64| {
            if count == 0 {
                return Duration::ZERO;
            }
            let rank = ((count as f64 * q).ceil() as u64).max(1);
            let mut seen = 0;
            for (index, n) in counts.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    return Duration::from_micros(upper(index).min(max));
                }
            }
            Duration::from_micros(max)
        };
        CheckoutWaits {
            count,
            median: quantile(0.5),
            p99: quantile(0.99),
            max: Duration::from_micros(max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut last = 0;
        for micros in (0..100_000u64).chain([u64::MAX / 2, u64::MAX]) {
            let b = bucket(micros);
            assert!(b >= last, "{micros}");
            last = b;
            if b < BUCKETS - 1 {
                let up = upper(b);
                assert!(up >= micros, "{micros} above its bucket's bound {up}");
                // Within 1/8 of the value.
                assert!(up - micros <= micros / 8, "{micros} -> {up}");
            }
        }
    }

    #[test]
    fn quantiles_of_known_waits() {
        let h = WaitHistogram::default();
        assert_eq!(h.snapshot().count, 0);
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.snapshot();
        assert_eq!(s.count, 100);
        assert_eq!(s.max, Duration::from_millis(100));
        let within = |got: Duration, want: u64| {
            let want = Duration::from_millis(want);
            got >= want && got <= want + want / 8
        };
        assert!(within(s.median, 50), "{s}");
        assert!(within(s.p99, 99), "{s}");
    }
}
