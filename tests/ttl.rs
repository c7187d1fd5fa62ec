//! Entries expire after their TTL (the function's, or the cache's default):
//! alive while it runs, never served once it has passed (memcached: plus up
//! to the second its clock rounds to).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use cachetool::cached;
use support::expiry_grace as grace;

/// Memcached counts expiry in whole seconds: 2 s is the shortest TTL that is
/// surely still alive right after a store.
const TTL: Duration = Duration::from_secs(2);

/// Checks both bounds of `$call`'s entry, whose body counts its runs in
/// `$counter`: alive while the TTL runs (checked only if the machine made
/// the second call in time), and never served once TTL (plus the backend's
/// grace) has passed since it was stored. No clock margin can fail it: a slow
/// machine only checks later, when the entry is surely expired.
macro_rules! expires_after_its_ttl {
    ($call:expr, $counter:expr) => {{
        call!($call);
        // The store happened before the first call returned.
        let stored_by = Instant::now();
        call!($call);
        if stored_by.elapsed() < TTL - Duration::from_secs(1) {
            assert_eq!($counter.load(SeqCst), 1, "alive right after the store");
        }
        let expired_by = stored_by + TTL + grace(KIND);
        sleep!(expired_by.saturating_duration_since(Instant::now()));
        let runs = $counter.load(SeqCst);
        call!($call);
        assert_eq!($counter.load(SeqCst), runs + 1, "served after its TTL");
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
        expires_after_its_ttl!(short_lived(1), RUNS);
    }

    #[test]
    fn the_caches_default_ttl_applies_when_the_function_sets_none() {
        expires_after_its_ttl!(default_lived(1), DEFAULT_RUNS);
    }
}
