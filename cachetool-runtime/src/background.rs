//! Recomputations that run after the call that started them has returned
//! (`#[cached(stale = ..)]`, `#[cached(refresh_ahead = ..)]`).
//!
//! At most one runs per key at a time in this process ([`Revalidations`]),
//! and none for the cache's `fail_safe_throttle` after one failed, so that a
//! failing database is not hit by every call that serves the old value.
//! Across processes the recomputation is an ordinary miss: it takes the
//! key's lock, so a second process's waits for the first's value instead of
//! computing it again.
//!
//! A sync function's recomputation runs on a small pool of the cache's
//! threads, started with the first one ([`Pool`]); an async function's on a
//! tokio task of the runtime that called it.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;

use crate::cache::Cache;
use crate::call::Throttles;
use crate::key::CallId;

/// The threads of one cache's pool: enough for a few slow bodies at once,
/// few enough to stay out of the way (a recomputation is not urgent: the
/// callers are served the old value meanwhile).
const POOL_THREADS: usize = 2;
/// Recomputations queued for the pool at most; past it a stale hit starts
/// none (a later one will).
const POOL_QUEUE: usize = 1024;
/// The most recomputations running or queued at once; past it a stale hit
/// starts none until some end.
const MAX_RUNNING: usize = 10_000;

/// The keys of one cache whose recomputation runs, or failed and is not to
/// run again yet; and the pool that runs a sync function's.
pub(crate) struct Revalidations {
    running: Mutex<HashSet<(u64, u128)>>,
    /// The keys whose last recomputation failed, for the throttle after it
    /// (the same rest `fail_safe` gives a failing key).
    failed: Throttles,
    pool: OnceLock<Option<Pool>>,
}

impl Revalidations {
    pub(crate) fn new(after_failure: Duration) -> Revalidations {
        Revalidations {
            running: Mutex::new(HashSet::new()),
            failed: Throttles::new(after_failure),
            pool: OnceLock::new(),
        }
    }

    /// Whether a recomputation of `key` may start now: none runs, none
    /// failed recently. If so it is noted as running.
    fn start(&self, key: (u64, u128)) -> bool {
        if self.failed.throttled(key) {
            return false;
        }
        let mut running = self.running.lock();
        running.len() < MAX_RUNNING && running.insert(key)
    }

    /// The recomputation of `key` ended; `failed`: with an error or a panic.
    fn end(&self, key: (u64, u128), failed: bool) {
        if failed {
            self.failed.throttle(key);
        }
        self.running.lock().remove(&key);
    }

    /// How many recomputations run or are queued.
    pub(crate) fn running(&self) -> usize {
        self.running.lock().len()
    }

    /// The pool, started on first use (`None` if no thread could be).
    fn pool(&self) -> Option<&Pool> {
        self.pool.get_or_init(Pool::start).as_ref()
    }
}

/// The right to run one key's recomputation, which its job holds: when it
/// is dropped, the key may have another (at once, or after the throttle if
/// the job failed or panicked).
#[must_use = "a recomputation is started by `spawn` or `spawn_task`"]
pub struct Revalidation {
    cache: Cache,
    key: (u64, u128),
    failed: bool,
}

impl Revalidation {
    /// The right to recompute `call` in `cache`, if no recomputation of it
    /// runs or failed recently.
    pub(crate) fn claim(cache: &Cache, call: CallId) -> Option<Revalidation> {
        let key = (call.function, call.args);
        cache.inner.revalidations.start(key).then(|| Revalidation {
            cache: cache.clone(),
            key,
            failed: false,
        })
    }

    /// Runs `job` on the cache's pool of threads, with the cache; `job`
    /// says whether it succeeded. Nothing runs if the pool can't take it
    /// (its queue is full, or no thread could be started).
    pub fn spawn(self, job: impl FnOnce(&Cache) -> bool + Send + 'static) {
        let inner = std::sync::Arc::clone(&self.cache.inner);
        let Some(pool) = inner.revalidations.pool() else {
            return;
        };
        let run = Box::new(move || {
            let succeeded = job(&self.cache);
            self.end(succeeded);
        });
        // A full queue drops the job, and with it the claim: a later stale
        // hit starts another.
        if let Err(TrySendError::Full(_)) = pool.jobs.try_send(run) {
            tracing::debug!("cachetool: the recomputation queue is full; this one is skipped");
        }
    }

    /// Runs the future that `job` makes of the cache on a task of the
    /// current tokio runtime; it says whether it succeeded. Nothing runs
    /// outside a runtime.
    #[cfg(feature = "tokio")]
    pub fn spawn_task<F>(self, job: impl FnOnce(Cache) -> F)
    where
        F: std::future::Future<Output = bool> + Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let future = job(self.cache.clone());
        runtime.spawn(async move {
            let succeeded = future.await;
            self.end(succeeded);
        });
    }

    /// The job ended, and `succeeded` or not.
    fn end(mut self, succeeded: bool) {
        self.failed = !succeeded;
    }
}

impl Drop for Revalidation {
    fn drop(&mut self) {
        // Unwinding: the job panicked, which counts as a failure.
        let failed = self.failed || std::thread::panicking();
        self.cache.inner.revalidations.end(self.key, failed);
    }
}

/// A job for the pool.
type Job = Box<dyn FnOnce() + Send>;

/// A cache's threads for the recomputations of sync functions. They end
/// when the cache does (the queue's sender goes with it).
struct Pool {
    jobs: SyncSender<Job>,
}

impl Pool {
    fn start() -> Option<Pool> {
        let (jobs, queue) = sync_channel::<Job>(POOL_QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        let mut started = 0;
        for _ in 0..POOL_THREADS {
            let queue = Arc::clone(&queue);
            let thread = std::thread::Builder::new()
                .name("cachetool-refresh".into())
                .spawn(move || work(&queue));
            match thread {
                Ok(_) => started += 1,
                Err(error) => {
                    tracing::warn!(%error, "cachetool: a thread for recomputations could not be started");
                }
            }
        }
        (started > 0).then_some(Pool { jobs })
    }
}

/// A pool thread: runs jobs until the queue's sender is gone. A job that
/// panics is over (its claim counts it as failed); the thread goes on.
fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        // One thread waits on the queue, the others on its lock.
        let job = queue.lock().recv();
        match job {
            Ok(job) => {
                let _ = catch_unwind(AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_recomputation_per_key_and_none_soon_after_a_failure() {
        let revalidations = Revalidations::new(Duration::from_secs(3600));
        let (a, b) = ((1, 1), (1, 2));
        assert!(revalidations.start(a));
        assert!(!revalidations.start(a), "running");
        assert!(revalidations.start(b), "another key");
        revalidations.end(b, false);
        assert!(revalidations.start(b), "ended well: may run again");
        revalidations.end(a, true);
        assert!(!revalidations.start(a), "failed within the hour");
        let no_throttle = Revalidations::new(Duration::ZERO);
        assert!(no_throttle.start(a));
        no_throttle.end(a, true);
        assert!(no_throttle.start(a), "no throttle: at once");
    }
}
