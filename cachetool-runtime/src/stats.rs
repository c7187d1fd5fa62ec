//! Hit, miss and load counters of one [`Cache`](crate::Cache).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

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
    /// Values not stored because they were larger than the cache's maximum value size.
    pub oversized: u64,
}

impl Stats {
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

#[derive(Debug, Default)]
pub(crate) struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    loads: AtomicU64,
    load_errors: AtomicU64,
    load_nanos: AtomicU64,
    errors: AtomicU64,
    oversized: AtomicU64,
}

impl Counters {
    pub(crate) fn hit(&self) {
        self.hits.fetch_add(1, Relaxed);
    }

    pub(crate) fn miss(&self) {
        self.misses.fetch_add(1, Relaxed);
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

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            loads: self.loads.load(Relaxed),
            load_errors: self.load_errors.load(Relaxed),
            load_time: Duration::from_nanos(self.load_nanos.load(Relaxed)),
            errors: self.errors.load(Relaxed),
            oversized: self.oversized.load(Relaxed),
        }
    }
}
