//! Hit, miss and load counters of one [`Cache`](crate::Cache): one [`Tally`]
//! per function (see `observe/functions.rs`), summed on demand.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use crate::observe::Functions;

/// A snapshot of a cache's counters since it was built (see [`Cache::stats`](crate::Cache::stats)).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Calls answered from the cache.
    pub hits: u64,
    /// Calls that found no valid entry (they then ran the function, or waited for
    /// another caller that ran it).
    pub misses: u64,
    /// Times a cached function's body ran.
    pub loads: u64,
    /// Bodies that returned `Err` (never stored).
    pub load_errors: u64,
    /// Total time spent running bodies.
    pub load_time: Duration,
    /// Backend operations that failed; the caller still got its function's value.
    pub errors: u64,
    /// Values not stored because they were larger than the cache's maximum value
    /// size, or than the backend stores (Memcached's item size limit).
    pub oversized: u64,
    /// Times `fail_safe` answered with an expired value: a body that failed
    /// (the callers waiting for that computation are handed the value, as
    /// they are any computation's), and each call during the throttle after it.
    pub fail_safe: u64,
    /// Calls answered (and counted among the hits) with a value due for a
    /// recomputation in the background (`stale`, past the TTL;
    /// `refresh_ahead`, before it): one that such a call started, or none
    /// (one ran already, one failed a moment ago, the queue was full, or an
    /// async call had no tokio runtime to start it on).
    pub stale: u64,
    /// Hits answered by the local tier in front of Redis or Memcached
    /// (`CacheBuilder::local`), with no round trip; counted among the hits
    /// too (`hits - local_hits` made a round trip).
    pub local_hits: u64,
}

impl Stats {
    /// Adds `other`'s counts to these.
    pub(crate) fn add(&mut self, other: &Stats) {
        self.hits += other.hits;
        self.misses += other.misses;
        self.loads += other.loads;
        self.load_errors += other.load_errors;
        self.load_time += other.load_time;
        self.errors += other.errors;
        self.oversized += other.oversized;
        self.fail_safe += other.fail_safe;
        self.stale += other.stale;
        self.local_hits += other.local_hits;
    }

    /// `hits / (hits + misses)`, or 0 before the first call.
    pub fn hit_rate(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}

/// The counters of one cache: each function's own tally, and one for the
/// calls of functions beyond the table's capacity.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) functions: Functions,
    pub(crate) unlisted: Tally,
}

impl Counters {
    /// The sum of every tally.
    pub(crate) fn snapshot(&self) -> Stats {
        let mut total = self.unlisted.snapshot();
        for function in self.functions.iter() {
            total.add(&function.tally.snapshot());
        }
        total
    }
}

/// One set of counters: hits and misses in per-thread stripes, the rest plain.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    hits: Striped,
    misses: Striped,
    local_hits: Striped,
    loads: AtomicU64,
    load_errors: AtomicU64,
    load_nanos: AtomicU64,
    errors: AtomicU64,
    oversized: AtomicU64,
    fail_safe: AtomicU64,
    stale: AtomicU64,
}

impl Tally {
    pub(crate) fn hit(&self) {
        self.hits.add_one();
    }

    pub(crate) fn miss(&self) {
        self.misses.add_one();
    }

    /// A hit in the local tier in front of a remote backend (and a hit).
    pub(crate) fn local_hit(&self) {
        self.hits.add_one();
        self.local_hits.add_one();
    }

    pub(crate) fn load(&self, took: Duration, failed: bool) {
        self.loads.fetch_add(1, Relaxed);
        if failed {
            self.load_errors.fetch_add(1, Relaxed);
        }
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.load_nanos.fetch_add(nanos, Relaxed);
    }

    pub(crate) fn error(&self) {
        self.errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn oversized(&self) {
        self.oversized.fetch_add(1, Relaxed);
    }

    /// A body that failed, its error replaced by an expired value (the load
    /// itself counted as it ended, with that value).
    pub(crate) fn failed_behind_fail_safe(&self) {
        self.load_errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn fail_safe(&self) {
        self.fail_safe.fetch_add(1, Relaxed);
    }

    pub(crate) fn stale(&self) {
        self.stale.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            hits: self.hits.sum(),
            misses: self.misses.sum(),
            loads: self.loads.load(Relaxed),
            load_errors: self.load_errors.load(Relaxed),
            load_time: Duration::from_nanos(self.load_nanos.load(Relaxed)),
            errors: self.errors.load(Relaxed),
            oversized: self.oversized.load(Relaxed),
            fail_safe: self.fail_safe.load(Relaxed),
            stale: self.stale.load(Relaxed),
            local_hits: self.local_hits.sum(),
        }
    }
}

/// A counter that every call adds to: one atomic per stripe, each on its own
/// cache line, and each thread adding to its own stripe, so that threads
/// counting at once don't pass one cache line back and forth on every call.
#[derive(Debug, Default)]
struct Striped([Stripe; STRIPES]);

const STRIPES: usize = 16;

/// One stripe, alone on its cache line (128 bytes: adjacent-line prefetch
/// pairs 64-byte lines).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

impl Striped {
    fn add_one(&self) {
        self.0[stripe_of_this_thread()].0.fetch_add(1, Relaxed);
    }

    fn sum(&self) -> u64 {
        self.0.iter().map(|stripe| stripe.0.load(Relaxed)).sum()
    }
}

/// The stripe of the calling thread: handed out in turn as threads first count.
fn stripe_of_this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<Option<usize>> = const { Cell::new(None) };
    }
    STRIPE
        .try_with(|stripe| match stripe.get() {
            Some(index) => index,
            None => {
                let index = NEXT.fetch_add(1, Relaxed) % STRIPES;
                stripe.set(Some(index));
                index
            }
        })
        // A thread counting while it exits.
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn striped_counts_add_up_across_threads() {
        let counters = Tally::default();
        std::thread::scope(|scope| {
            for _ in 0..(2 * STRIPES + 3) {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        counters.hit();
                    }
                    counters.miss();
                });
            }
        });
        let stats = counters.snapshot();
        assert_eq!((stats.hits, stats.misses), (35_000, 35));
    }
}
