//! Hit, miss and load counters of one [`Cache`](crate::Cache): one [`Tally`]
//! per function (see `observe/functions.rs`), summed on demand.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::Mutex;

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

/// One set of counters: what every call or every miss adds to in per-thread
/// stripes, the rarer rest plain. (Each striped counter is 2.5 KB, about
/// 13 KB a function in each cache: the price of no locked add on a call.)
#[derive(Debug, Default)]
pub(crate) struct Tally {
    hits: Striped,
    misses: Striped,
    local_hits: Striped,
    loads: Striped,
    load_nanos: Striped,
    load_errors: AtomicU64,
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
        self.loads.add_one();
        if failed {
            self.load_errors.fetch_add(1, Relaxed);
        }
        // A sum past `u64::MAX` nanoseconds (584 years of loads) wraps.
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.load_nanos.add(nanos);
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
            loads: self.loads.sum(),
            load_errors: self.load_errors.load(Relaxed),
            load_time: Duration::from_nanos(self.load_nanos.sum()),
            errors: self.errors.load(Relaxed),
            oversized: self.oversized.load(Relaxed),
            fail_safe: self.fail_safe.load(Relaxed),
            stale: self.stale.load(Relaxed),
            local_hits: self.local_hits.sum(),
        }
    }
}

/// A counter that every call adds to: one atomic per stripe, each on its own
/// cache line, so that threads counting at once don't pass one cache line
/// back and forth on every call.
///
/// The first threads to count each own a stripe of every counter (see
/// [`ThreadStripe`]): only that thread writes it, so it adds with a plain
/// load and store, not a read-modify-write (an atomic add is a locked
/// instruction, a sixth of a hit's time). Threads beyond them add atomically
/// to stripes they share.
#[derive(Debug, Default)]
struct Striped([Stripe; OWNED + SHARED]);

/// Stripes owned by one thread each.
const OWNED: usize = 16;
/// Stripes shared by the threads beyond those.
const SHARED: usize = 4;

/// One stripe, alone on its cache line (128 bytes: adjacent-line prefetch
/// pairs 64-byte lines).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

impl Striped {
    #[inline]
    fn add_one(&self) {
        self.add(1);
    }

    /// Adds `count` (wrapping past `u64::MAX`, as `fetch_add` does).
    #[inline]
    fn add(&self, count: u64) {
        match ThreadStripe::of_this_thread() {
            ThreadStripe::Owned(index) => {
                let stripe = &self.0[index].0;
                stripe.store(stripe.load(Relaxed).wrapping_add(count), Relaxed);
            }
            ThreadStripe::Shared(index) => {
                self.0[index].0.fetch_add(count, Relaxed);
            }
        }
    }

    fn sum(&self) -> u64 {
        (self.0.iter()).fold(0, |sum, stripe| sum.wrapping_add(stripe.0.load(Relaxed)))
    }
}

/// The stripe a thread adds to, in every counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ThreadStripe {
    /// Its own: no other thread writes it while this one lives.
    Owned(usize),
    /// One it shares (`OWNED..OWNED + SHARED`).
    Shared(usize),
}

/// The owned stripes of threads that exited, for the next threads to own.
static FREE: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static NEXT_OWNED: AtomicUsize = AtomicUsize::new(0);
static NEXT_SHARED: AtomicUsize = AtomicUsize::new(0);

/// A thread's stripe, handed back when the thread exits. (Its counts stay:
/// they are part of every sum. The thread's last adds happen before it hands
/// the stripe back through `FREE`'s lock, and the next owner's after it
/// takes it: one writer at a time.)
struct Lease(Cell<Option<ThreadStripe>>);

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(ThreadStripe::Owned(index)) = self.0.get() {
            FREE.lock().push(index);
        }
    }
}

thread_local! {
    static LEASE: Lease = const { Lease(Cell::new(None)) };
}

impl ThreadStripe {
    #[inline]
    fn of_this_thread() -> ThreadStripe {
        LEASE
            .try_with(|lease| match lease.0.get() {
                Some(stripe) => stripe,
                None => {
                    let stripe = ThreadStripe::take();
                    lease.0.set(Some(stripe));
                    stripe
                }
            })
            // A thread counting while it exits, after its lease was handed
            // back: a shared stripe.
            .unwrap_or(ThreadStripe::Shared(OWNED))
    }

    #[cold]
    fn take() -> ThreadStripe {
        if let Some(index) = FREE.lock().pop() {
            return ThreadStripe::Owned(index);
        }
        // Past `OWNED`, the count goes on growing: no stripe is owned twice.
        let owned = NEXT_OWNED.fetch_add(1, Relaxed);
        if owned < OWNED {
            return ThreadStripe::Owned(owned);
        }
        ThreadStripe::Shared(OWNED + NEXT_SHARED.fetch_add(1, Relaxed) % SHARED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn striped_counts_add_up_across_threads_and_their_successors() {
        let counters = Tally::default();
        // Three waves of more threads than stripes: the later waves own the
        // stripes the earlier ones handed back, and share the rest.
        for _ in 0..3 {
            std::thread::scope(|scope| {
                for _ in 0..(2 * (OWNED + SHARED) + 3) {
                    scope.spawn(|| {
                        for _ in 0..1000 {
                            counters.hit();
                        }
                        counters.miss();
                        counters.load(Duration::from_nanos(7), false);
                        counters.load(Duration::from_micros(1), true);
                    });
                }
            });
        }
        let stats = counters.snapshot();
        assert_eq!((stats.hits, stats.misses), (3 * 43_000, 3 * 43));
        assert_eq!((stats.loads, stats.load_errors), (3 * 43 * 2, 3 * 43));
        assert_eq!(stats.load_time, Duration::from_nanos(3 * 43 * 1007));
    }

    #[test]
    fn no_two_live_threads_own_one_stripe() {
        const THREADS: usize = OWNED + 3;
        let taken = Mutex::new(Vec::new());
        let arrived = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    taken.lock().push(ThreadStripe::of_this_thread());
                    // Alive until every thread has its stripe (bounded: a
                    // thread that never arrives fails the test).
                    arrived.fetch_add(1, Relaxed);
                    let deadline = std::time::Instant::now() + Duration::from_secs(30);
                    while arrived.load(Relaxed) < THREADS {
                        assert!(
                            std::time::Instant::now() < deadline,
                            "a thread never arrived"
                        );
                        std::thread::yield_now();
                    }
                });
            }
        });
        let taken = taken.into_inner();
        let mut owned: Vec<usize> = (taken.iter())
            .filter_map(|stripe| match stripe {
                ThreadStripe::Owned(index) => Some(*index),
                ThreadStripe::Shared(index) => {
                    assert!((OWNED..OWNED + SHARED).contains(index));
                    None
                }
            })
            .collect();
        let count = owned.len();
        owned.sort_unstable();
        owned.dedup();
        assert_eq!(
            owned.len(),
            count,
            "an owned stripe handed to two live threads"
        );
        assert!(owned.iter().all(|&index| index < OWNED));
    }
}
