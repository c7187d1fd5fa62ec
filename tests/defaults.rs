//! Every default the README documents, as a user gets it: the global cache
//! before `set_global`, and a builder with nothing set. Its own test binary:
//! the global cache is process-wide state.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cachetool::{cached, Cache, ConnectOptions, ErrorKind, MemoryBackend};

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn double(n: u64) -> u64 {
    RUNS.fetch_add(1, SeqCst);
    n * 2
}

fn assert_documented_defaults(cache: &Cache) {
    assert_eq!(cache.prefix(), "cachetool");
    assert_eq!(cache.default_ttl(), None, "no expiry");
    assert_eq!(cache.lock_timeout(), Duration::from_secs(30));
    assert_eq!(cache.max_value_size(), 16 << 20, "16 MiB");
    let backend: &dyn Any = cache.backend().as_ref();
    let memory = backend
        .downcast_ref::<MemoryBackend>()
        .expect("an in-memory backend");
    assert_eq!(memory.capacity(), 100_000);
}

#[test]
fn the_global_cache_has_the_documented_defaults_and_is_fixed_once_used() {
    // The default global, in use by a cached function.
    assert_eq!(double(2), 4);
    assert_eq!(double(2), 4);
    assert_eq!(RUNS.load(SeqCst), 1);
    assert_documented_defaults(cachetool::global());
    // Once in use it can't be replaced.
    let error = cachetool::set_global(Cache::builder().prefix("late").build().unwrap())
        .expect_err("set_global after the default global is in use");
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(cachetool::global().prefix(), "cachetool");
}

#[test]
fn a_builder_with_nothing_set_has_the_documented_defaults() {
    assert_documented_defaults(&Cache::builder().build().unwrap());
    assert_documented_defaults(&Cache::memory());
    let connect = ConnectOptions::default();
    assert_eq!(connect.connect_timeout, Duration::from_secs(1));
    assert_eq!(connect.io_timeout, Duration::from_secs(1));
}
