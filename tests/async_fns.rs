//! `#[cached]` on `async fn` and async methods: the same behaviour as sync
//! functions, every wait awaited, on multi-thread and current-thread tokio
//! runtimes; cancelled or panicking leaders never leave waiters hanging.
#![cfg(feature = "tokio")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cachetool::cached;
use tokio::sync::Notify;

/// Bounds every wait of these tests.
const PATIENCE: Duration = Duration::from_secs(20);

fn assert_send<T: Send>(value: T) -> T {
    value
}

support::for_each_backend! {
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("async"), tags = ["async", format!("n:{n}")], ttl = 600)]
    async fn doubled(n: u64) -> u64 {
        RUNS.fetch_add(1, SeqCst);
        tokio::task::yield_now().await;
        n * 2
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_async_fn_runs_once_and_its_companions_are_async() {
        for _ in 0..4 {
            assert_eq!(assert_send(doubled(21)).await, 42);
        }
        assert_eq!(RUNS.load(SeqCst), 1);
        doubled_invalidate(21).await.expect("invalidate");
        assert_eq!(doubled(21).await, 42);
        assert_eq!(RUNS.load(SeqCst), 2);
        assert_eq!(doubled_refresh(21).await, 42);
        assert_eq!(RUNS.load(SeqCst), 3);
        cache("async").clean_async(&["n:21"]).await.expect("clean");
        assert_eq!(doubled(21).await, 42);
        assert_eq!(RUNS.load(SeqCst), 4);
        cache("async").clean_all_async().await.expect("clean_all");
        assert_eq!(doubled(21).await, 42);
        assert_eq!(RUNS.load(SeqCst), 5);
    }

    static SHARED_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("async-shared"), name = "shared.square")]
    fn square_sync(n: u64) -> u64 {
        SHARED_RUNS.fetch_add(1, SeqCst);
        n * n
    }

    #[cached(cache = cache("async-shared"), name = "shared.square")]
    async fn square_async(n: u64) -> u64 {
        SHARED_RUNS.fetch_add(1, SeqCst);
        n * n
    }

    #[tokio::test(flavor = "current_thread")]
    async fn sync_and_async_functions_share_one_key_space() {
        assert_eq!(square_sync(9), 81);
        assert_eq!(square_async(9).await, 81, "stored by the sync fn, a hit for the async one");
        assert_eq!(square_async(10).await, 100);
        assert_eq!(square_sync(10), 100, "and the other way round");
        assert_eq!(SHARED_RUNS.load(SeqCst), 2);
    }

    static FALLIBLE_RUNS: AtomicUsize = AtomicUsize::new(0);

    struct Repo {
        offset: u64,
    }

    impl Repo {
        #[cached(cache = cache("async"))]
        async fn find(&self, id: u64) -> Result<u64, String> {
            FALLIBLE_RUNS.fetch_add(1, SeqCst);
            let id: u64 = if id == 0 { "zero".parse().map_err(|_| "no row 0".to_string())? } else { id };
            Ok(id + self.offset)
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn async_methods_cache_only_ok() {
        let repo = Repo { offset: 100 };
        assert_eq!(repo.find(0).await, Err("no row 0".to_string()));
        assert_eq!(repo.find(0).await, Err("no row 0".to_string()));
        assert_eq!(repo.find(1).await, Ok(101));
        assert_eq!(repo.find(1).await, Ok(101));
        assert_eq!(FALLIBLE_RUNS.load(SeqCst), 3);
        repo.find_invalidate(1).await.expect("invalidate");
        assert_eq!(repo.find_refresh(1).await, Ok(101));
        assert_eq!(FALLIBLE_RUNS.load(SeqCst), 4);
    }

    static STAMPEDE_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("async-stampede"), tags = ["t"])]
    async fn slow(n: u64) -> u64 {
        STAMPEDE_RUNS.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        n + 1
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hundred_tasks_on_one_cold_key_run_the_body_once() {
        let tasks: Vec<_> = (0..100).map(|_| tokio::spawn(slow(7))).collect();
        for task in tasks {
            assert_eq!(tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap(), 8);
        }
        assert_eq!(STAMPEDE_RUNS.load(SeqCst), 1);
        assert_eq!(cache("async-stampede").stats().errors, 0);
    }

    static CANCEL_RUNS: AtomicUsize = AtomicUsize::new(0);
    static CANCEL_GATE: std::sync::LazyLock<Arc<Notify>> = std::sync::LazyLock::new(|| Arc::new(Notify::new()));

    /// The first run never finishes by itself (its task gets aborted); later runs do.
    #[cached(cache = cache("async-cancel"))]
    async fn cancelled_first(n: u64) -> u64 {
        if CANCEL_RUNS.fetch_add(1, SeqCst) == 0 {
            CANCEL_GATE.notified().await;
        }
        n
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_leader_wakes_its_waiters_and_one_computes() {
        let cache = cache("async-cancel");
        let leader = tokio::spawn(cancelled_first(5));
        wait_until(|| CANCEL_RUNS.load(SeqCst) == 1).await;
        let waiters: Vec<_> = (0..8).map(|_| tokio::spawn(cancelled_first(5))).collect();
        wait_until(|| cache.stats().misses == 9).await;
        leader.abort();
        assert!(leader.await.unwrap_err().is_cancelled());
        for waiter in waiters {
            assert_eq!(tokio::time::timeout(PATIENCE, waiter).await.expect("no waiter hangs").unwrap(), 5);
        }
        assert_eq!(CANCEL_RUNS.load(SeqCst), 2, "one waiter computed after the cancellation");
    }

    static PANIC_RUNS: AtomicUsize = AtomicUsize::new(0);
    static PANIC_GATE: std::sync::LazyLock<Arc<Notify>> = std::sync::LazyLock::new(|| Arc::new(Notify::new()));

    #[cached(cache = cache("async-panic"))]
    async fn panics_first(n: u64) -> u64 {
        if PANIC_RUNS.fetch_add(1, SeqCst) == 0 {
            PANIC_GATE.notified().await;
            panic!("the first computation fails");
        }
        n
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_leader_wakes_its_waiters_and_one_computes() {
        let cache = cache("async-panic");
        let leader = tokio::spawn(panics_first(6));
        wait_until(|| PANIC_RUNS.load(SeqCst) == 1).await;
        let waiters: Vec<_> = (0..8).map(|_| tokio::spawn(panics_first(6))).collect();
        wait_until(|| cache.stats().misses == 9).await;
        PANIC_GATE.notify_one();
        assert!(leader.await.unwrap_err().is_panic());
        for waiter in waiters {
            assert_eq!(tokio::time::timeout(PATIENCE, waiter).await.expect("no waiter hangs").unwrap(), 6);
        }
        assert_eq!(PANIC_RUNS.load(SeqCst), 2);
    }

    #[test]
    fn a_cache_built_outside_a_runtime_works_inside_one() {
        let cache = new_cache("async-outside");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            cache.clean_async(&["x"]).await.expect("clean");
            cache.clean_all_async().await.expect("clean_all");
        });
    }
}

/// Waits (bounded) until `condition` holds, yielding to other tasks.
async fn wait_until(condition: impl Fn() -> bool) {
    tokio::time::timeout(PATIENCE, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the condition held in time");
}
