//! Functions that name no cache use the global one; `set_global` installs it
//! before first use and refuses afterwards.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cachetool::{cached, Cache, ErrorKind};

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(tags = ["math"])]
fn triple(n: u64) -> u64 {
    RUNS.fetch_add(1, SeqCst);
    n * 3
}

// One test: the global cache is process-wide state.
#[test]
fn the_global_cache_is_set_once_and_used_by_default() {
    let cache = Cache::builder().prefix("global-test").build().unwrap();
    cachetool::set_global(cache).expect("set before first use");
    assert_eq!(cachetool::global().prefix(), "global-test");

    assert_eq!(triple(2), 6);
    assert_eq!(triple(2), 6);
    assert_eq!(RUNS.load(SeqCst), 1);
    assert_eq!(cachetool::global().stats().hits, 1);

    cachetool::global().clean(&["math"]).unwrap();
    assert_eq!(triple(2), 6);
    assert_eq!(RUNS.load(SeqCst), 2);
    cachetool::global().clean_all().unwrap();
    assert_eq!(triple(2), 6);
    assert_eq!(RUNS.load(SeqCst), 3);

    let error = cachetool::set_global(Cache::memory()).expect_err("too late");
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(cachetool::global().prefix(), "global-test");
}
