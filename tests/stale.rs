//! `stale = ...` and `refresh_ahead = ...`: a call that finds a value due
//! for a recomputation (past its TTL by less than `stale`, or past
//! `refresh_ahead` of it) returns it at once, and one recomputation runs in
//! the background; its value is what later calls get. Invalidation still
//! beats it; a failing one keeps the old value.
//!
//! Each function's first value lives 2 s (then it is stale), every later
//! one an hour (a `ttl` closure over the value, the run's number), so that
//! what a test checks after the recomputation races no expiry however slow
//! the machine.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cachetool::cached;
use support::{expiry_grace as grace, short_then_long};

/// The TTL of a function's first value (`support::short_then_long`).
const TTL: Duration = Duration::from_secs(2);
/// The TTL of every later value (a recomputation's).
const LONG: Duration = Duration::from_secs(3600);

support::modes::for_each_mode! {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    static PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);

    #[cached(
        cache = cache("stale"),
        name = "stale.price",
        ttl = |run: &u64| short_then_long(run),
        stale = 3600,
        unless = |run: &u64| *run == 0
    )]
    fn price(id: u32) -> u64 {
        let _ = id;
        let run = RUNS.fetch_add(1, SeqCst) + 1;
        call!(rt::Pause::take_and_wait(&PAUSE));
        run as u64
    }

    #[test]
    fn a_stale_value_is_served_at_once_and_recomputed_once_in_the_background() {
        assert_eq!(call!(price(1)), 1);
        let stored_by = Instant::now();
        if KIND != support::BackendKind::Memory {
            // The server keeps it for its TTL plus `stale`.
            let cache = cache("stale");
            let key = cachetool::admin::entry_key(cache.prefix(), "stale.price", &[1u32]).unwrap();
            let stored = cachetool::admin::inspect(cache, &key).unwrap().expect("stored");
            let kept = stored.ttl.expect("it expires");
            assert!(kept > Duration::from_secs(3500) && kept <= Duration::from_secs(3602), "{kept:?}");
        }
        sleep!((stored_by + TTL + grace(KIND)).saturating_duration_since(Instant::now()));
        assert_eq!(call!(price_peek(1)), None, "past its TTL");
        let pause = rt::Pause::arm(&PAUSE);
        assert_eq!(call!(price(1)), 1, "the stale value, at once");
        wait!(pause.started);
        // The recomputation is running (paused in the body): later calls get
        // the stale value too, and start none.
        for _ in 0..3 {
            assert_eq!(call!(price(1)), 1);
        }
        assert_eq!(cache("stale").__recomputations_running(), 1);
        wait!(pause.resume);
        until!(call!(price_peek(1)) == Some(2), "the recomputed value is stored");
        until!(cache("stale").__recomputations_running() == 0, "the recomputation ends");
        assert_eq!(call!(price(1)), 2, "a fresh hit");
        assert_eq!(RUNS.load(SeqCst), 2, "one recomputation, however many stale calls");
        let stats = cache("stale").stats();
        assert_eq!((stats.stale, stats.loads, stats.hits, stats.misses), (4, 2, 5, 1), "{stats:?}");
    }

    static GREETINGS: AtomicUsize = AtomicUsize::new(0);

    #[cached(
        cache = cache("stale-str"),
        ttl = |greeting: &String| if greeting.ends_with("#1") { TTL } else { LONG },
        stale = 3600
    )]
    fn greet(name: &str, punctuation: String) -> String {
        let run = GREETINGS.fetch_add(1, SeqCst) + 1;
        format!("hello {name}{punctuation} #{run}")
    }

    #[test]
    fn a_borrowed_argument_is_owned_by_the_recomputation() {
        let name = String::from("ada");
        assert_eq!(call!(greet(&name, "!".to_owned())), "hello ada! #1");
        let stored_by = Instant::now();
        sleep!((stored_by + TTL + grace(KIND)).saturating_duration_since(Instant::now()));
        assert_eq!(call!(greet(&name, "!".to_owned())), "hello ada! #1", "stale");
        drop(name);
        until!(
            call!(greet_peek("ada", "!".to_owned())) == Some("hello ada! #2".to_owned()),
            "recomputed with the copies of the arguments"
        );
        assert_eq!(GREETINGS.load(SeqCst), 2);
    }

    static AHEAD_RUNS: AtomicUsize = AtomicUsize::new(0);

    // The first value is due for a refresh after 3 s of 60: the window before
    // it expires is wide. The recomputed one, after 180 s of an hour.
    #[cached(
        cache = cache("refresh-ahead"),
        ttl = |run: &u64| if *run == 1 { Duration::from_secs(60) } else { LONG },
        refresh_ahead = 0.05
    )]
    fn rate(id: u32) -> u64 {
        let _ = id;
        (AHEAD_RUNS.fetch_add(1, SeqCst) + 1) as u64
    }

    #[test]
    fn refresh_ahead_recomputes_a_hot_key_before_it_expires() {
        assert_eq!(call!(rate(1)), 1);
        let stored_by = Instant::now();
        assert_eq!(call!(rate(1)), 1, "fresh: a plain hit");
        assert_eq!(AHEAD_RUNS.load(SeqCst), 1);
        sleep!((stored_by + Duration::from_millis(3100)).saturating_duration_since(Instant::now()));
        assert_eq!(call!(rate(1)), 1, "due: served, and recomputed in the background");
        until!(call!(rate_peek(1)) == Some(2), "the recomputed value is stored");
        until!(cache("refresh-ahead").__recomputations_running() == 0, "the recomputation ends");
        assert_eq!(call!(rate(1)), 2);
        assert_eq!(AHEAD_RUNS.load(SeqCst), 2);
        let stats = cache("refresh-ahead").stats();
        assert_eq!((stats.stale, stats.misses), (1, 1), "{stats:?}");
    }

    static RACE_RUNS: AtomicUsize = AtomicUsize::new(0);
    static RACE_PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);

    #[cached(cache = cache("stale-race"), ttl = |run: &u64| short_then_long(run), stale = 3600)]
    fn stock(id: u32) -> u64 {
        let _ = id;
        let run = RACE_RUNS.fetch_add(1, SeqCst) + 1;
        call!(rt::Pause::take_and_wait(&RACE_PAUSE));
        run as u64
    }

    #[test]
    fn an_invalidation_beats_a_recomputation_in_the_background() {
        assert_eq!(call!(stock(1)), 1);
        let stored_by = Instant::now();
        sleep!((stored_by + TTL + grace(KIND)).saturating_duration_since(Instant::now()));
        let pause = rt::Pause::arm(&RACE_PAUSE);
        assert_eq!(call!(stock(1)), 1, "stale");
        wait!(pause.started);
        call!(stock_invalidate(1)).unwrap();
        wait!(pause.resume);
        until!(cache("stale-race").__recomputations_running() == 0, "the recomputation ends");
        assert_eq!(call!(stock_peek(1)), None, "computed before the invalidation: not stored");
        assert_eq!(call!(stock(1)), 3, "a miss computes anew");
        assert_eq!(RACE_RUNS.load(SeqCst), 3);
    }

    static FAILING: AtomicBool = AtomicBool::new(false);
    static QUOTE_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(
        cache = cache_with("stale-failing", |builder| builder.fail_safe_throttle(Duration::ZERO)),
        ttl = |run: &u64| short_then_long(run),
        stale = 3600
    )]
    fn quote(id: u32) -> Result<u64, String> {
        let _ = id;
        let run = QUOTE_RUNS.fetch_add(1, SeqCst) + 1;
        match FAILING.load(SeqCst) {
            true => Err(format!("down (run {run})")),
            false => Ok(run as u64),
        }
    }

    #[test]
    fn a_failing_recomputation_keeps_the_old_value() {
        assert_eq!(call!(quote(1)), Ok(1));
        let stored_by = Instant::now();
        FAILING.store(true, SeqCst);
        sleep!((stored_by + TTL + grace(KIND)).saturating_duration_since(Instant::now()));
        assert_eq!(call!(quote(1)), Ok(1), "stale");
        let cache = cache("stale-failing");
        until!(cache.stats().load_errors == 1, "the recomputation fails");
        until!(cache.__recomputations_running() == 0, "and ends");
        assert_eq!(call!(quote(1)), Ok(1), "the old value is still served");
        until!(cache.stats().load_errors == 2, "and recomputed again (no throttle)");
        until!(cache.__recomputations_running() == 0, "which ends");
        FAILING.store(false, SeqCst);
        assert_eq!(call!(quote(1)), Ok(1));
        until!(call!(quote_peek(1)) == Some(4), "a recomputation that works is stored");
        assert_eq!(QUOTE_RUNS.load(SeqCst), 4);
    }
}
