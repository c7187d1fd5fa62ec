//! Async functions on Redis through the backend's native async connection (no
//! blocking pool): one backend used by runtimes one after another; and a server stopped under running async
//! calls, then restarted on the same port. Single flight across 100 tasks is
//! in `async_fns.rs`, and the round trips per operation in `round_trips.rs`,
//! on every backend.

#![cfg(all(feature = "redis", feature = "tokio"))]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use cachetool::{cached, Cache};
use support::redis::Setup;

/// Bounds every wait of these tests.
const PATIENCE: Duration = Duration::from_secs(20);
/// How long the calls made during the outage may take in all.
const OUTAGE_PATIENCE: Duration = Duration::from_secs(90);

static SEQUENCE: LazyLock<Setup> =
    LazyLock::new(|| Setup::new("async-runtimes", |builder| builder));
static SEQUENCE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &SEQUENCE.cache, name = "seq")]
async fn seq(n: u64) -> u64 {
    SEQUENCE_RUNS.fetch_add(1, SeqCst);
    n * 3
}

#[test]
fn one_backend_serves_runtimes_one_after_another() {
    // Each runtime is shut down before the next starts: a connection made on
    // one must not be used (dead) on the next.
    for round in 0..4u64 {
        let runtime = if round % 2 == 0 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        }
        .enable_all()
        .build()
        .unwrap();
        runtime.block_on(async {
            // The entry of the round before is a hit; this round's is a miss, then a hit.
            if round > 0 {
                let hits = SEQUENCE.cache.stats().hits;
                assert_eq!(seq(round - 1).await, (round - 1) * 3);
                assert_eq!(SEQUENCE.cache.stats().hits, hits + 1);
            }
            assert_eq!(seq(round).await, round * 3);
            let trips = SEQUENCE.backend.round_trips();
            assert_eq!(seq(round).await, round * 3);
            assert_eq!(SEQUENCE.backend.round_trips() - trips, 1, "a hit");
        });
        drop(runtime);
        assert_eq!(SEQUENCE.cache.stats().errors, 0, "round {round}");
    }
    assert_eq!(SEQUENCE_RUNS.load(SeqCst), 4);
}

const SHORT: Duration = Duration::from_millis(300);

static RESTART: LazyLock<Mutex<Setup>> =
    LazyLock::new(|| Mutex::new(Setup::with_url_cache("async-restart", SHORT)));
static RESTART_CACHE: LazyLock<Cache> = LazyLock::new(|| RESTART.lock().unwrap().cache.clone());
static RESTART_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &*RESTART_CACHE, name = "restart", tags = ["t"])]
async fn restart_fn(n: u64) -> u64 {
    RESTART_RUNS.fetch_add(1, SeqCst);
    n * 10
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_fails_open_and_hits_resume_after_a_restart() {
    let cache = RESTART_CACHE.clone();
    assert_eq!(restart_fn(1).await, 10);
    assert_eq!(restart_fn(1).await, 10);
    assert_eq!(cache.stats().hits, 1);
    assert_eq!(cache.stats().errors, 0);

    // Calls keep running on 8 tasks while the server stops, and 20 more each
    // after it stopped (bounded by count and time).
    let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..8u64)
        .map(|task| {
            let stopped = stopped.clone();
            tokio::spawn(async move {
                let mut after_stop = 0;
                for call in 0..100_000u64 {
                    if stopped.load(SeqCst) {
                        after_stop += 1;
                        if after_stop > 20 {
                            break;
                        }
                    }
                    // A bound, far above what 20 failing-open calls take
                    // (each at most one io_timeout): it ends the loop, and
                    // the count below then says which bound ended it.
                    if started.elapsed() > OUTAGE_PATIENCE {
                        break;
                    }
                    let n = (task * 1000 + call) % 7;
                    assert_eq!(restart_fn(n).await, n * 10, "every call returns its value");
                }
                after_stop
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::task::spawn_blocking(|| RESTART.lock().unwrap().server().stop())
        .await
        .unwrap();
    stopped.store(true, SeqCst);
    for task in tasks {
        let after_stop = tokio::time::timeout(OUTAGE_PATIENCE * 2, task)
            .await
            .expect("within the patience")
            .expect("no panic");
        assert_eq!(
            after_stop, 21,
            "each task made 20 calls after the stop within {OUTAGE_PATIENCE:?}"
        );
    }
    for n in 100..105 {
        assert_eq!(restart_fn(n).await, n * 10);
    }
    assert!(cache.stats().errors > 0, "the failures are counted");

    tokio::task::spawn_blocking(|| RESTART.lock().unwrap().server().restart())
        .await
        .unwrap();
    // Hits resume in the same Cache, bounded in count and time.
    assert_eq!(restart_fn(42).await, 420); // stored (or computed while reconnecting)
    let hits = cache.stats().hits;
    let deadline = Instant::now() + PATIENCE;
    let mut resumed = false;
    // (Bounded by time first: after failed connects, the back-off pauses
    // reconnecting for up to 5 s.)
    for _ in 0..2000 {
        assert_eq!(restart_fn(42).await, 420);
        if cache.stats().hits > hits {
            resumed = true;
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no hit within {PATIENCE:?} of the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(resumed, "hits resume after the restart");
}
