//! Every duration the API accepts works: `Duration::MAX` and other
//! "effectively forever" TTLs and lock timeouts neither panic (these tests
//! run with overflow checks on) nor silently stop caching, on every backend.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cachetool::cached;

/// Longer than memcached's 30-day limit for relative TTLs and than the 2038
/// limit of its absolute ones.
const TWENTY_YEARS: Duration = Duration::from_secs(20 * 365 * 24 * 3600);

support::modes::for_each_mode! {
    static MAX_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("ttl-max"), ttl = Duration::MAX)]
    fn forever(n: u32) -> u32 {
        MAX_RUNS.fetch_add(1, SeqCst);
        n + 1
    }

    #[test]
    fn a_ttl_of_duration_max_caches() {
        assert_eq!(call!(forever(1)), 2);
        assert_eq!(call!(forever(1)), 2);
        assert_eq!(MAX_RUNS.load(SeqCst), 1, "the second call is a hit");
    }

    static LONG_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("ttl-20y"), ttl = TWENTY_YEARS)]
    fn twenty_years(n: u32) -> u32 {
        LONG_RUNS.fetch_add(1, SeqCst);
        n + 1
    }

    #[test]
    fn a_ttl_of_twenty_years_caches() {
        assert_eq!(call!(twenty_years(1)), 2);
        assert_eq!(call!(twenty_years(1)), 2);
        assert_eq!(LONG_RUNS.load(SeqCst), 1, "the second call is a hit");
    }

    static DEFAULT_RUNS: AtomicUsize = AtomicUsize::new(0);

    fn default_forever() -> &'static ::cachetool::Cache {
        cache_with("default-ttl-max", |builder| builder.ttl(Duration::MAX))
    }

    #[cached(cache = default_forever())]
    fn by_default(n: u32) -> u32 {
        DEFAULT_RUNS.fetch_add(1, SeqCst);
        n + 1
    }

    #[test]
    fn a_default_ttl_of_duration_max_caches() {
        assert_eq!(default_forever().default_ttl(), None, "no expiry");
        assert_eq!(call!(by_default(1)), 2);
        assert_eq!(call!(by_default(1)), 2);
        assert_eq!(DEFAULT_RUNS.load(SeqCst), 1, "the second call is a hit");
    }

    static LOCK_RUNS: AtomicUsize = AtomicUsize::new(0);

    fn patient() -> &'static ::cachetool::Cache {
        cache_with("lock-timeout-max", |builder| builder.lock_timeout(Duration::MAX))
    }

    #[cached(cache = patient(), tags = ["t"])]
    fn locked(n: u32) -> u32 {
        LOCK_RUNS.fetch_add(1, SeqCst);
        n + 1
    }

    /// A miss computes under the lock (whose expiry and deadline are "never")
    /// and stores; the next call hits.
    #[test]
    fn a_lock_timeout_of_duration_max_works() {
        assert_eq!(call!(locked(1)), 2);
        assert_eq!(call!(locked(1)), 2);
        assert_eq!(LOCK_RUNS.load(SeqCst), 1, "the second call is a hit");
        assert_eq!(patient().stats().errors, 0, "no backend error");
    }
}
