//! Faults of Redis only, against a real redis-server: values over the size
//! limit, and a connect that hangs. The faults both backends meet the same
//! way are in `faults.rs`.

#![cfg(feature = "redis")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use cachetool::{cached, Backend, ConnectOptions, ErrorKind, RedisBackend};
use cachetool_test_harness::faults::FullQueue;
use support::redis::Setup;

const SHORT: Duration = Duration::from_millis(300);

static OVERSIZED: LazyLock<Setup> =
    LazyLock::new(|| Setup::new("fault-oversized", |builder| builder.max_value_size(1024)));
static OVERSIZED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &OVERSIZED.cache, name = "big")]
fn big(len: usize) -> String {
    OVERSIZED_RUNS.fetch_add(1, SeqCst);
    "x".repeat(len)
}

#[test]
fn oversized_values_are_not_stored_but_returned_and_counted() {
    let setup = &*OVERSIZED;
    assert_eq!(big(10_000).len(), 10_000);
    assert_eq!(big(10_000).len(), 10_000);
    assert_eq!(OVERSIZED_RUNS.load(SeqCst), 2);
    assert_eq!(setup.cache.stats().oversized, 2);
    assert_eq!(
        setup.keys_with(b":entry:"),
        Vec::<Vec<u8>>::new(),
        "nothing stored"
    );
    // A small value of the same function is stored.
    assert_eq!(big(10), "x".repeat(10));
    assert_eq!(big(10), "x".repeat(10));
    assert_eq!(OVERSIZED_RUNS.load(SeqCst), 3);
}

#[test]
fn a_connect_that_hangs_times_out() {
    // A listener that never accepts: once its accept queue is full, the kernel
    // drops new connection attempts, so a connect hangs until its timeout.
    let full = FullQueue::new();
    let mut options = ConnectOptions::default();
    options.connect_timeout = SHORT;
    options.io_timeout = SHORT;
    let backend = RedisBackend::open(&format!("redis://{}/", full.address()), &options).unwrap();
    let started = Instant::now();
    let error = backend.get_many(&["k"]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(error.to_string().contains("connect"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
