//! A Redis server that silently drops connection attempts (a listener whose
//! accept queue is full) must not cost every call the connect timeout: after
//! a failed connect, calls fail at once and compute their own values for a
//! growing, jittered pause, while one call at a time probes the server; when
//! the server is back, calls connect again. Sync and async.
//!
//! Counted, not timed: `RedisBackend::connect_attempts()` says how many
//! connections were tried. Each failed attempt pauses the next for at least
//! 125 ms (half of the first 250 ms pause, the jitter's floor), and an attempt
//! on the full queue lasts the whole connect timeout, so in `elapsed` time at
//! most `1 + elapsed / (connect timeout + 125 ms)` attempts can start: a bound
//! that holds on any machine, however loaded, and that N calls each waiting
//! for their own connect timeout would break.

#![cfg(feature = "redis")]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use cachetool::{cached, Backend, Cache, ConnectOptions, RedisBackend};
use cachetool_test_harness::faults::FullQueue;
use cachetool_test_harness::{Kind, Server};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The shortest pause after a failed connect (250 ms, jittered down to half).
const MIN_PAUSE: Duration = Duration::from_millis(125);

fn options(connect_timeout: Duration) -> ConnectOptions {
    let mut options = ConnectOptions::default();
    options.connect_timeout = connect_timeout;
    options.io_timeout = Duration::from_secs(1);
    options
}

/// The most attempts that can start in `elapsed` if every failed attempt
/// lasts at least `each` and is followed by a pause (see the module docs).
fn most_attempts(elapsed: Duration, each: Duration) -> u64 {
    1 + (elapsed.as_secs_f64() / (each + MIN_PAUSE).as_secs_f64()) as u64
}

static FULL: LazyLock<FullQueue> = LazyLock::new(FullQueue::new);
static SYNC_BACKEND: LazyLock<Arc<RedisBackend>> = LazyLock::new(|| {
    let url = format!("redis://{}/", FULL.address());
    Arc::new(RedisBackend::open(&url, &options(CONNECT_TIMEOUT)).unwrap())
});
static SYNC_CACHE: LazyLock<Cache> = LazyLock::new(|| {
    Cache::builder()
        .backend(SYNC_BACKEND.clone())
        .build()
        .unwrap()
});
static SYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &*SYNC_CACHE, name = "dropped_sync", tags = ["t"])]
fn dropped_sync(n: u64) -> u64 {
    SYNC_RUNS.fetch_add(1, SeqCst);
    n * 2
}

#[test]
fn sync_calls_to_a_server_dropping_connects_fail_at_once_between_probes() {
    let calls = 20u64;
    let started = Instant::now();
    for n in 0..calls {
        assert_eq!(dropped_sync(n), n * 2, "every call computes its own value");
    }
    let elapsed = started.elapsed();
    let attempts = SYNC_BACKEND.connect_attempts();
    assert_eq!(SYNC_RUNS.load(SeqCst), calls as usize);
    assert!(attempts >= 1);
    assert!(
        attempts <= most_attempts(elapsed, CONNECT_TIMEOUT),
        "{attempts} connect attempts in {elapsed:?} for {calls} calls"
    );
    assert!(attempts < calls, "not one connect timeout per call");
    assert_eq!(SYNC_CACHE.stats().errors, calls, "each failure is counted");
    // A call that did not try says why (if this one did try, the pause had
    // ended: it then waited for its own timeout, and says so).
    let error = SYNC_BACKEND.get_many(&["k"]).unwrap_err();
    let text = error.to_string();
    if SYNC_BACKEND.connect_attempts() == attempts {
        assert!(
            text.contains("not tried") && text.contains("failed attempt(s) in a row"),
            "{text}"
        );
    } else {
        assert!(error.is_timeout(), "{text}");
    }
}

#[cfg(feature = "tokio")]
static ASYNC_BACKEND: LazyLock<Arc<RedisBackend>> = LazyLock::new(|| {
    let url = format!("redis://{}/", FULL.address());
    Arc::new(RedisBackend::open(&url, &options(CONNECT_TIMEOUT)).unwrap())
});
#[cfg(feature = "tokio")]
static ASYNC_CACHE: LazyLock<Cache> = LazyLock::new(|| {
    Cache::builder()
        .backend(ASYNC_BACKEND.clone())
        .build()
        .unwrap()
});
#[cfg(feature = "tokio")]
static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cfg(feature = "tokio")]
#[cached(cache = &*ASYNC_CACHE, name = "dropped_async", tags = ["t"])]
async fn dropped_async(n: u64) -> u64 {
    ASYNC_RUNS.fetch_add(1, SeqCst);
    n * 2
}

#[cfg(feature = "tokio")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_calls_to_a_server_dropping_connects_fail_at_once_between_probes() {
    let started = Instant::now();
    // Twenty tasks at once on a cold backend: one connects, the others wait
    // for it (the server looked healthy), then fail with it.
    let tasks: Vec<_> = (0..20u64)
        .map(|n| tokio::spawn(async move { (n, dropped_async(n).await) }))
        .collect();
    for task in tasks {
        let (n, value) = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("bounded")
            .unwrap();
        assert_eq!(value, n * 2);
    }
    // Then one after another.
    for n in 20..40u64 {
        assert_eq!(dropped_async(n).await, n * 2);
    }
    let elapsed = started.elapsed();
    let attempts = ASYNC_BACKEND.connect_attempts();
    assert_eq!(ASYNC_RUNS.load(SeqCst), 40);
    assert!(attempts >= 1);
    assert!(
        attempts <= most_attempts(elapsed, CONNECT_TIMEOUT),
        "{attempts} connect attempts in {elapsed:?} for 40 calls"
    );
    assert!(attempts < 20, "not one connect timeout per call");
    assert_eq!(ASYNC_CACHE.stats().errors, 40);
}

/// Calls `call` until it succeeds, at most 20 s (the longest pause is 5 s).
fn until_ok<E: std::fmt::Debug>(mut call: impl FnMut() -> Result<(), E>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match call() {
            Ok(()) => return,
            Err(error) => assert!(
                Instant::now() < deadline,
                "still failing 20 s after the server came back: {error:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Makes failed attempts on a stopped server for `window`, counting: at most
/// one attempt per pause. A refused connect takes no time, so the bound is
/// `1 + elapsed / 125 ms` from the first failure.
fn fail_for(window: Duration, mut call: impl FnMut() -> bool, attempts: impl Fn() -> u64) {
    let before = attempts();
    let started = Instant::now();
    let mut calls = 0u64;
    while started.elapsed() < window {
        assert!(!call(), "the server is down: every call fails");
        calls += 1;
    }
    let made = attempts() - before;
    let elapsed = started.elapsed();
    assert!(made >= 1, "the first call tries");
    assert!(
        made <= most_attempts(elapsed, Duration::ZERO),
        "{made} attempts for {calls} calls in {elapsed:?}"
    );
    assert!(made < calls, "{made} attempts for {calls} calls");
}

#[test]
fn sync_calls_connect_again_once_the_server_is_back() {
    let mut server = Server::start(Kind::Redis);
    let backend = RedisBackend::open(&server.url(), &options(CONNECT_TIMEOUT)).unwrap();
    backend.set("k", b"v".to_vec().into(), None).unwrap();
    server.stop();
    fail_for(
        Duration::from_millis(600),
        || backend.get_many(&["k"]).is_ok(),
        || backend.connect_attempts(),
    );
    server.restart();
    until_ok(|| backend.get_many(&["k"]).map(drop));
    // The server is in memory only: the restart lost the value, not the connection.
    assert!(backend.get_many(&["k"]).unwrap()[0].is_none());
}

#[cfg(feature = "tokio")]
#[test]
fn async_calls_connect_again_once_the_server_is_back() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut server = Server::start(Kind::Redis);
    let backend = RedisBackend::open(&server.url(), &options(CONNECT_TIMEOUT)).unwrap();
    let aio = backend.as_async().unwrap();
    let get = || runtime.block_on(aio.get_many(&["k"])).map(drop);
    runtime
        .block_on(aio.set("k", b"v".to_vec().into(), None))
        .unwrap();
    server.stop();
    fail_for(
        Duration::from_millis(600),
        || get().is_ok(),
        || backend.connect_attempts(),
    );
    server.restart();
    until_ok(get);
}
