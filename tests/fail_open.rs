//! A backend that fails makes no cached call fail: each still returns its own
//! body's value, and the failures are counted. (Real servers going down are
//! tested per backend; this drives the cache's error paths directly.)

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use cachetool::{cached, Backend, Cache, Error, ErrorKind, MemoryBackend, Result, Value};

/// A memory backend that can be switched into failing every operation.
struct Flaky {
    inner: MemoryBackend,
    down: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<()> {
        if self.down.load(SeqCst) {
            Err(Error::new(ErrorKind::Backend, "flaky: the backend is down"))
        } else {
            Ok(())
        }
    }
}

impl Backend for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn stores_objects(&self) -> bool {
        true
    }
    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Value>>> {
        self.check()?;
        self.inner.get_many(keys)
    }
    fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()> {
        self.check()?;
        self.inner.set(key, value, ttl)
    }
    fn replace_if(
        &self,
        key: &str,
        seen: Option<&Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<cachetool::HeldLock<'_>>,
    ) -> Result<bool> {
        self.check()?;
        self.inner.replace_if(key, seen, value, ttl, release)
    }
    fn delete_many(&self, keys: &[&str]) -> Result<()> {
        self.check()?;
        self.inner.delete_many(keys)
    }
    fn unlock(&self, key: &str, token: u64) -> Result<()> {
        self.check()?;
        self.inner.unlock(key, token)
    }
    fn begin_load(
        &self,
        lock: Option<cachetool::LockRequest<'_>>,
        version_keys: &[&str],
        new_versions: &[Value],
        entry_key: &str,
    ) -> Result<cachetool::LoadStart> {
        self.check()?;
        self.inner
            .begin_load(lock, version_keys, new_versions, entry_key)
    }
}

static FLAKY: std::sync::LazyLock<Arc<Flaky>> = std::sync::LazyLock::new(|| {
    Arc::new(Flaky {
        inner: MemoryBackend::new(1000),
        down: AtomicBool::new(false),
    })
});
static CACHE: std::sync::LazyLock<Cache> = std::sync::LazyLock::new(|| {
    Cache::builder()
        .backend(FLAKY.clone())
        .prefix("flaky")
        .build()
        .unwrap()
});
static RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = CACHE, tags = ["t"])]
fn tagged(n: u32) -> u32 {
    RUNS.fetch_add(1, SeqCst);
    n + 100
}

#[test]
fn a_failing_backend_never_fails_a_call() {
    #[cfg(feature = "tokio")]
    let _serial = SERIAL.blocking_lock();
    assert_eq!(tagged(1), 101);
    assert_eq!(tagged(1), 101);
    assert_eq!(RUNS.load(SeqCst), 1);

    let errors_before = CACHE.stats().errors;
    FLAKY.down.store(true, SeqCst);
    for _ in 0..3 {
        assert_eq!(tagged(1), 101, "the body's own value, not an error");
    }
    assert_eq!(
        RUNS.load(SeqCst),
        4,
        "every call computed while the backend was down"
    );
    assert_eq!(
        CACHE.stats().errors - errors_before,
        3,
        "one failed read per call"
    );
    let error = tagged_invalidate(1).expect_err("invalidate reports the failure to its caller");
    assert_eq!(error.kind(), ErrorKind::Backend);
    assert!(error.to_string().contains("down"), "{error}");
    assert!(CACHE.clean(&["t"]).is_err());
    assert!(CACHE.clean_all().is_err());
    assert_eq!(tagged_refresh(2), 102, "refresh still returns its value");

    FLAKY.down.store(false, SeqCst);
    assert_eq!(tagged(1), 101);
    let runs = RUNS.load(SeqCst);
    assert_eq!(tagged(1), 101);
    assert_eq!(
        RUNS.load(SeqCst),
        runs,
        "hits resume once the backend is back"
    );
}

#[cfg(feature = "tokio")]
static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cfg(feature = "tokio")]
#[cached(cache = CACHE, tags = ["async"])]
async fn tagged_async(n: u32) -> u32 {
    ASYNC_RUNS.fetch_add(1, SeqCst);
    n + 200
}

/// `Flaky` is not an in-process backend to the async path: its calls run on
/// tokio's blocking pool, failures included.
#[cfg(feature = "tokio")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_backend_never_fails_an_async_call() {
    let _serial = SERIAL.lock().await;
    let flaky = Flaky {
        inner: MemoryBackend::new(100),
        down: AtomicBool::new(false),
    };
    let flaky = Arc::new(flaky);
    assert!(!flaky.is_local());
    let cache = Cache::builder()
        .backend(flaky.clone())
        .prefix("flaky-async")
        .build()
        .unwrap();
    cache
        .clean_async(&["x"])
        .await
        .expect("clean through the blocking pool");
    flaky.down.store(true, SeqCst);
    assert!(cache.clean_async(&["x"]).await.is_err());
    assert!(cache.clean_all_async().await.is_err());

    // The function's own cache goes down and up too.
    assert_eq!(tagged_async(1).await, 201);
    assert_eq!(tagged_async(1).await, 201);
    assert_eq!(ASYNC_RUNS.load(SeqCst), 1);
    FLAKY.down.store(true, SeqCst);
    assert_eq!(
        tagged_async(1).await,
        201,
        "the body's own value, not an error"
    );
    assert!(tagged_async_invalidate(1).await.is_err());
    FLAKY.down.store(false, SeqCst);
    assert_eq!(ASYNC_RUNS.load(SeqCst), 2);
}

/// The two tests switch the same backend down and up: one at a time.
#[cfg(feature = "tokio")]
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A backend whose reads and locks work and whose compare-and-set writes can
/// be switched into failing; it counts those writes and the unlocks. It has
/// no `replace_if_many` of its own: a `_many` stores through the trait's
/// default, one `replace_if` per miss.
struct FailingWrites {
    inner: MemoryBackend,
    fail: AtomicBool,
    writes: AtomicUsize,
    unlocks: AtomicUsize,
}

impl Backend for FailingWrites {
    fn name(&self) -> &str {
        "failing-writes"
    }
    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Value>>> {
        self.inner.get_many(keys)
    }
    fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()> {
        self.inner.set(key, value, ttl)
    }
    fn replace_if(
        &self,
        key: &str,
        seen: Option<&Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<cachetool::HeldLock<'_>>,
    ) -> Result<bool> {
        self.writes.fetch_add(1, SeqCst);
        if self.fail.load(SeqCst) {
            return Err(Error::new(
                ErrorKind::Backend,
                "failing-writes: write refused",
            ));
        }
        self.inner.replace_if(key, seen, value, ttl, release)
    }
    fn delete_many(&self, keys: &[&str]) -> Result<()> {
        self.inner.delete_many(keys)
    }
    fn unlock(&self, key: &str, token: u64) -> Result<()> {
        self.unlocks.fetch_add(1, SeqCst);
        self.inner.unlock(key, token)
    }
    fn begin_load(
        &self,
        lock: Option<cachetool::LockRequest<'_>>,
        version_keys: &[&str],
        new_versions: &[Value],
        entry_key: &str,
    ) -> Result<cachetool::LoadStart> {
        self.inner
            .begin_load(lock, version_keys, new_versions, entry_key)
    }
}

/// A cache on a `FailingWrites` of its own.
fn failing_writes(prefix: &str) -> (Arc<FailingWrites>, Cache) {
    let backend = Arc::new(FailingWrites {
        inner: MemoryBackend::new(1000),
        fail: AtomicBool::new(false),
        writes: AtomicUsize::new(0),
        unlocks: AtomicUsize::new(0),
    });
    let cache = Cache::builder()
        .backend(backend.clone())
        .prefix(prefix)
        .build()
        .unwrap();
    (backend, cache)
}

static FAILING_WRITES: std::sync::LazyLock<(Arc<FailingWrites>, Cache)> =
    std::sync::LazyLock::new(|| failing_writes("failing-writes"));
static BATCHED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = FAILING_WRITES.1)]
fn batched(n: u32) -> u32 {
    BATCHED_RUNS.fetch_add(1, SeqCst);
    n + 300
}

#[test]
fn a_many_whose_writes_fail_still_returns_its_values_and_releases_its_locks() {
    let (backend, cache) = &*FAILING_WRITES;
    assert_eq!(batched_many([1, 2]), [301, 302]);
    assert_eq!(backend.writes.load(SeqCst), 2, "one replace_if per miss");
    assert_eq!(batched_many([1, 2]), [301, 302]);
    assert_eq!(BATCHED_RUNS.load(SeqCst), 2, "stored");

    backend.fail.store(true, SeqCst);
    let errors = cache.stats().errors;
    let unlocks = backend.unlocks.load(SeqCst);
    assert_eq!(batched_many([3, 4]), [303, 304], "the bodies' own values");
    assert_eq!(
        cache.stats().errors - errors,
        2,
        "each failed write counted"
    );
    assert_eq!(
        backend.unlocks.load(SeqCst) - unlocks,
        2,
        "each lock released after its failed write"
    );
    backend.fail.store(false, SeqCst);
    assert_eq!(batched_many([3, 4]), [303, 304]);
    assert_eq!(batched_many([3, 4]), [303, 304]);
    assert_eq!(
        BATCHED_RUNS.load(SeqCst),
        6,
        "computed again once, then stored"
    );
}

#[cfg(feature = "tokio")]
static ASYNC_FAILING_WRITES: std::sync::LazyLock<(Arc<FailingWrites>, Cache)> =
    std::sync::LazyLock::new(|| failing_writes("failing-writes-async"));
#[cfg(feature = "tokio")]
static ASYNC_BATCHED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cfg(feature = "tokio")]
#[cached(cache = ASYNC_FAILING_WRITES.1)]
async fn batched_async(n: u32) -> u32 {
    ASYNC_BATCHED_RUNS.fetch_add(1, SeqCst);
    n + 400
}

/// The same for an `async fn`: the writes go to tokio's blocking pool.
#[cfg(feature = "tokio")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_many_whose_writes_fail_still_returns_its_values() {
    let (backend, cache) = &*ASYNC_FAILING_WRITES;
    assert_eq!(batched_async_many([1, 2]).await, [401, 402]);
    assert_eq!(batched_async_many([1, 2]).await, [401, 402]);
    assert_eq!(ASYNC_BATCHED_RUNS.load(SeqCst), 2, "stored");
    backend.fail.store(true, SeqCst);
    let errors = cache.stats().errors;
    assert_eq!(batched_async_many([3, 4]).await, [403, 404]);
    assert_eq!(cache.stats().errors - errors, 2);
    backend.fail.store(false, SeqCst);
    assert_eq!(batched_async_many([3, 4]).await, [403, 404]);
    assert_eq!(batched_async_many([3, 4]).await, [403, 404]);
    assert_eq!(ASYNC_BATCHED_RUNS.load(SeqCst), 6);
}
