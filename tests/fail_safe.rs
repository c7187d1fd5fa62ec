//! `fail_safe = ...`: a failing body is answered by the value that expired
//! less than that long ago (`Ok(old)`, not stored again), and for the cache's
//! throttle the key's calls get it without running the body; counted in
//! `stats().fail_safe`. Nothing to fall back on (never stored, invalidated,
//! expired too long ago): the error.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use cachetool::cached;
use support::expiry_grace as grace;

/// The functions' TTL: memcached counts expiry in whole seconds, so 2 s is
/// the shortest that is surely alive right after a store.
const TTL: Duration = Duration::from_secs(2);

/// The body's answer: `Err` while `failing`, else a value that tells the runs apart.
fn answer(failing: &AtomicBool, runs: &AtomicUsize) -> Result<u64, String> {
    let run = runs.fetch_add(1, SeqCst) + 1;
    match failing.load(SeqCst) {
        true => Err(format!("the database is down (run {run})")),
        false => Ok(run as u64),
    }
}

/// A throttle that no test outlives: after a fallback, the body does not run.
const LONG: Duration = Duration::from_secs(3600);

support::modes::for_each_mode! {
    static FAILING: AtomicBool = AtomicBool::new(false);
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(
        cache = cache_with("fail-safe", |builder| builder.fail_safe_throttle(LONG)),
        name = "prices.get",
        ttl = 2,
        fail_safe = 3600
    )]
    fn price(id: u32) -> Result<u64, String> {
        let _ = id;
        answer(&FAILING, &RUNS)
    }

    #[test]
    fn a_failing_body_gets_the_expired_value_and_is_not_run_again_within_the_throttle() {
        assert_eq!(call!(price(1)), Ok(1));
        let stored_by = Instant::now();
        if KIND != support::BackendKind::Memory {
            // The server keeps it for its TTL plus `fail_safe`.
            let cache = cache("fail-safe");
            let key = cachetool::admin::entry_key(cache.prefix(), "prices.get", &[1u32]).unwrap();
            let stored = cachetool::admin::inspect(cache, &key).unwrap().expect("stored");
            let kept = stored.ttl.expect("it expires");
            assert!(kept > Duration::from_secs(3500) && kept <= Duration::from_secs(3602), "{kept:?}");
        }
        FAILING.store(true, SeqCst);
        sleep!((stored_by + TTL + grace(KIND)).saturating_duration_since(Instant::now()));
        assert_eq!(call!(price(1)), Ok(1), "the expired value instead of the error");
        assert_eq!(RUNS.load(SeqCst), 2, "the body ran and failed");
        let stats = cache("fail-safe").stats();
        assert_eq!((stats.fail_safe, stats.load_errors, stats.loads), (1, 1, 2));
        for _ in 0..3 {
            assert_eq!(call!(price(1)), Ok(1));
        }
        assert_eq!(RUNS.load(SeqCst), 2, "throttled: the body did not run again");
        assert_eq!(cache("fail-safe").stats().fail_safe, 4);
        // A key with nothing stored has nothing to fall back on.
        assert_eq!(call!(price(2)), Err("the database is down (run 3)".to_owned()));
        assert_eq!(cache("fail-safe").stats().fail_safe, 4);
        // `_many` too: the throttled key's value, the other key's error.
        let both = call!(price_many([1, 2]));
        assert_eq!(both, [Ok(1), Err("the database is down (run 4)".to_owned())]);
        assert_eq!(cache("fail-safe").stats().fail_safe, 5);
    }

    static ZERO_FAILING: AtomicBool = AtomicBool::new(false);
    static ZERO_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(
        cache = cache_with("fail-safe-unthrottled", |builder| builder.fail_safe_throttle(Duration::ZERO)),
        ttl = 2,
        fail_safe = 3600
    )]
    fn quote(id: u32) -> Result<u64, String> {
        let _ = id;
        answer(&ZERO_FAILING, &ZERO_RUNS)
    }

    #[test]
    fn without_a_throttle_each_call_runs_the_body_and_the_first_success_is_stored() {
        assert_eq!(call!(quote(1)), Ok(1));
        let stored_by = Instant::now();
        ZERO_FAILING.store(true, SeqCst);
        sleep!((stored_by + TTL + grace(KIND)).saturating_duration_since(Instant::now()));
        assert_eq!(call!(quote(1)), Ok(1));
        assert_eq!(call!(quote(1)), Ok(1), "the old value was not stored as fresh");
        assert_eq!(ZERO_RUNS.load(SeqCst), 3, "each call ran the body");
        ZERO_FAILING.store(false, SeqCst);
        assert_eq!(call!(quote(1)), Ok(4), "the body works again: its value");
        assert_eq!(call!(quote(1)), Ok(4), "stored");
        assert_eq!(ZERO_RUNS.load(SeqCst), 4);
        assert_eq!(cache("fail-safe-unthrottled").stats().fail_safe, 2);
    }

    static GONE_FAILING: AtomicBool = AtomicBool::new(false);
    static GONE_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(
        cache = cache_with("fail-safe-gone", |builder| builder.fail_safe_throttle(LONG)),
        ttl = 2,
        fail_safe = 3600
    )]
    fn stock(id: u32) -> Result<u64, String> {
        let _ = id;
        answer(&GONE_FAILING, &GONE_RUNS)
    }

    #[test]
    fn an_invalidated_entry_is_nothing_to_fall_back_on() {
        assert_eq!(call!(stock(1)), Ok(1));
        let stored_by = Instant::now();
        GONE_FAILING.store(true, SeqCst);
        sleep!((stored_by + TTL + grace(KIND)).saturating_duration_since(Instant::now()));
        call!(stock_invalidate(1)).unwrap();
        assert_eq!(call!(stock(1)), Err("the database is down (run 2)".to_owned()));
        assert_eq!(cache("fail-safe-gone").stats().fail_safe, 0);
    }

    static SHORT_FAILING: AtomicBool = AtomicBool::new(false);
    static SHORT_RUNS: AtomicUsize = AtomicUsize::new(0);

    // Kept a second past its TTL, no longer.
    #[cached(
        cache = cache_with("fail-safe-short", |builder| builder.fail_safe_throttle(LONG)),
        ttl = 2,
        fail_safe = 1
    )]
    fn rate(id: u32) -> Result<u64, String> {
        let _ = id;
        answer(&SHORT_FAILING, &SHORT_RUNS)
    }

    #[test]
    fn a_value_expired_longer_ago_than_fail_safe_is_not_used() {
        assert_eq!(call!(rate(1)), Ok(1));
        let stored_by = Instant::now();
        SHORT_FAILING.store(true, SeqCst);
        let too_old = stored_by + TTL + Duration::from_secs(1) + grace(KIND);
        sleep!(too_old.saturating_duration_since(Instant::now()));
        assert_eq!(call!(rate(1)), Err("the database is down (run 2)".to_owned()));
        assert_eq!(cache("fail-safe-short").stats().fail_safe, 0);
    }

    static FLIGHT_FAILING: AtomicBool = AtomicBool::new(false);
    static FLIGHT_OPEN: AtomicBool = AtomicBool::new(false);
    static FLIGHT_RUNS: AtomicUsize = AtomicUsize::new(0);
    static FLIGHT_ENTERED: AtomicUsize = AtomicUsize::new(0);

    // Fails only once the gate opens, so that the test can gather callers
    // behind a computation in flight.
    #[cached(
        cache = cache_with("fail-safe-flight", |builder| builder.fail_safe_throttle(LONG)),
        ttl = 2,
        fail_safe = 3600
    )]
    fn slow(id: u32) -> Result<u64, String> {
        let _ = id;
        FLIGHT_ENTERED.fetch_add(1, SeqCst);
        if FLIGHT_FAILING.load(SeqCst) {
            let started = Instant::now();
            while !FLIGHT_OPEN.load(SeqCst) {
                assert!(started.elapsed() < support::modes::TEST_PATIENCE, "the gate never opened");
                sleep!(Duration::from_millis(1));
            }
        }
        answer(&FLIGHT_FAILING, &FLIGHT_RUNS)
    }

    #[test]
    fn the_callers_waiting_for_a_failing_computation_get_the_old_value_too() {
        assert_eq!(call!(slow(1)), Ok(1));
        let stored_by = Instant::now();
        FLIGHT_FAILING.store(true, SeqCst);
        sleep!((stored_by + TTL + grace(KIND)).saturating_duration_since(Instant::now()));
        let callers: Vec<_> = (0..3).map(|_| spawn!({ call!(slow(1)) })).collect();
        let cache = cache("fail-safe-flight");
        // The first caller is in the body; all three have looked and missed
        // (a caller that joins once the leader answered is throttled).
        until!(FLIGHT_ENTERED.load(SeqCst) == 2 && cache.stats().misses == 4, "three callers behind one computation");
        FLIGHT_OPEN.store(true, SeqCst);
        for caller in callers {
            assert_eq!(join!(caller).expect("the caller"), Ok(1));
        }
        assert_eq!(FLIGHT_ENTERED.load(SeqCst), 2, "the body ran once for the three");
        // One answer, handed to the two waiters as any computation's value is.
        assert_eq!(cache.stats().fail_safe, 1);
    }
}
