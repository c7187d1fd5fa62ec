//! Entries expire after their TTL (the function's, or the cache's default) and
//! are never served after it.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use cachetool::cached;

/// Memcached counts expiry in whole seconds: 2 s is the shortest TTL that is
/// surely still alive right after a store.
const TTL: Duration = Duration::from_secs(2);
const EXPIRY_DEADLINE: Duration = Duration::from_secs(10);

/// Calls `$call` until its body has run `$runs` times, at most until the
/// deadline, in the mode of the test that expands it.
macro_rules! until_recomputed {
    ($call:expr, $counter:expr, $runs:expr) => {{
        let started = Instant::now();
        while $counter.load(SeqCst) < $runs {
            assert!(
                started.elapsed() < EXPIRY_DEADLINE,
                "the entry did not expire within {EXPIRY_DEADLINE:?}"
            );
            sleep!(Duration::from_millis(100));
            call!($call);
        }
    }};
}

support::modes::for_each_mode! {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    static DEFAULT_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("ttl"), ttl = 2)]
    fn short_lived(n: u32) -> u32 {
        RUNS.fetch_add(1, SeqCst);
        n
    }

    #[cached(cache = cache_with("ttl-default", |builder| builder.ttl(TTL)))]
    fn default_lived(n: u32) -> u32 {
        DEFAULT_RUNS.fetch_add(1, SeqCst);
        n
    }

    #[test]
    fn an_entry_expires_after_the_functions_ttl() {
        let stored = Instant::now();
        call!(short_lived(1));
        call!(short_lived(1));
        assert_eq!(RUNS.load(SeqCst), 1, "alive right after the store");
        until_recomputed!(short_lived(1), RUNS, 2);
        assert!(stored.elapsed() >= Duration::from_secs(1), "expired too early: {:?}", stored.elapsed());
    }

    #[test]
    fn the_caches_default_ttl_applies_when_the_function_sets_none() {
        let stored = Instant::now();
        call!(default_lived(1));
        call!(default_lived(1));
        assert_eq!(DEFAULT_RUNS.load(SeqCst), 1);
        until_recomputed!(default_lived(1), DEFAULT_RUNS, 2);
        assert!(stored.elapsed() >= Duration::from_secs(1), "expired too early: {:?}", stored.elapsed());
    }
}
