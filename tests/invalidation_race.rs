//! No stale read after an invalidation: a value whose computation started
//! before `foo_invalidate`, `clean` or `clean_all` returned is never served
//! after it returned. Barriers force the interleaving.
//!
//! Each race runs with the invalidation made through the computing call's own
//! cache, and through a second `Cache` on the same backend and prefix (its
//! `twin_cache`), which is what another process does: the twin's
//! invalidations are not counted by the first cache, so only the backend's
//! compare-and-set and the hand-over's comparison of what each caller read
//! keep the overtaken value out. (`cross_process_invalidation.rs` makes the
//! same race with a real second process.)

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use cachetool::cached;

/// Runs `$call` on another thread (task) with a pause armed in `$slot`, runs
/// `$invalidate` while the body is between reading its data and returning,
/// then lets it finish; gives what the racing call returned.
macro_rules! race {
    ($slot:expr, $call:expr, $invalidate:block) => {{
        let pause = rt::Pause::arm(&$slot);
        let computing = spawn!({ call!($call) });
        wait!(pause.started);
        $invalidate
        wait!(pause.resume);
        join!(computing).unwrap()
    }};
}

/// As `race!`, with a second call of `$call` that starts after `$invalidate`
/// returned, while the first is still computing (so it waits for it: the
/// test goes on once `$cache` counts it among the callers waiting); gives
/// what both calls returned.
macro_rules! race_with_newcomer {
    ($cache:expr, $slot:expr, $call:expr, $invalidate:block) => {{
        let pause = rt::Pause::arm(&$slot);
        let computing = spawn!({ call!($call) });
        wait!(pause.started);
        $invalidate
        let joins = $cache.__flight_joins();
        let arriving = spawn!({ call!($call) });
        until!(
            $cache.__flight_joins() > joins,
            "the newcomer waits for the computation"
        );
        wait!(pause.resume);
        (join!(computing).unwrap(), join!(arriving).unwrap())
    }};
}

support::modes::for_each_mode! {
    static DATA: AtomicUsize = AtomicUsize::new(0);
    static PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);

    /// Reads DATA, then (when armed) waits for the test before returning it.
    #[maybe_async]
    fn read_data(label: &str) -> String {
        let value = format!("{label}{}", DATA.load(SeqCst));
        call!(rt::Pause::take_and_wait(&PAUSE));
        value
    }

    #[cached(cache = cache("race-invalidate"))]
    fn by_key(n: u32) -> String {
        call!(read_data(&format!("{n}:")))
    }

    #[test]
    fn invalidate_beats_an_in_flight_computation() {
        let stale = race!(PAUSE, by_key(1), {
            DATA.fetch_add(1, SeqCst);
            call!(by_key_invalidate(1)).expect("invalidate");
        });
        assert_eq!(stale, "1:0", "the racing call itself returns what its body computed");
        assert_eq!(call!(by_key(1)), "1:1", "but it was not stored over the invalidation");
        assert_eq!(call!(by_key(1)), "1:1");
    }

    static TAG_DATA: AtomicUsize = AtomicUsize::new(0);
    static TAG_PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);

    #[cached(cache = cache("race-clean"), tags = ["race"])]
    fn by_tag(n: u32) -> String {
        let value = format!("{n}:{}", TAG_DATA.load(SeqCst));
        call!(rt::Pause::take_and_wait(&TAG_PAUSE));
        value
    }

    #[test]
    fn clean_beats_an_in_flight_computation() {
        let stale = race!(TAG_PAUSE, by_tag(1), {
            TAG_DATA.fetch_add(1, SeqCst);
            clean!(cache("race-clean"), &["race"]).expect("clean");
        });
        assert_eq!(stale, "1:0");
        assert_eq!(call!(by_tag(1)), "1:1");
    }

    static EPOCH_DATA: AtomicUsize = AtomicUsize::new(0);
    static EPOCH_PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);

    #[cached(cache = cache("race-clean-all"))]
    fn by_epoch(n: u32) -> String {
        let value = format!("{n}:{}", EPOCH_DATA.load(SeqCst));
        call!(rt::Pause::take_and_wait(&EPOCH_PAUSE));
        value
    }

    #[test]
    fn clean_all_beats_an_in_flight_computation() {
        let stale = race!(EPOCH_PAUSE, by_epoch(1), {
            EPOCH_DATA.fetch_add(1, SeqCst);
            clean_all!(cache("race-clean-all")).expect("clean_all");
        });
        assert_eq!(stale, "1:0");
        assert_eq!(call!(by_epoch(1)), "1:1");
    }

    static WAITER_DATA: AtomicUsize = AtomicUsize::new(0);
    static WAITER_PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);

    #[cached(cache = cache("race-waiter"))]
    fn waited_for(n: u32) -> String {
        let value = format!("{n}:{}", WAITER_DATA.load(SeqCst));
        call!(rt::Pause::take_and_wait(&WAITER_PAUSE));
        value
    }

    /// A call that starts after the invalidation returned, while the overtaken
    /// computation still runs, waits for that computation: it must not be
    /// handed its value.
    #[test]
    fn a_call_arriving_after_an_invalidation_is_not_handed_the_overtaken_value() {
        let (computing, arriving) = race_with_newcomer!(cache("race-waiter"), WAITER_PAUSE, waited_for(1), {
            WAITER_DATA.fetch_add(1, SeqCst);
            call!(waited_for_invalidate(1)).expect("invalidate");
        });
        assert_eq!(computing, "1:0");
        assert_eq!(arriving, "1:1", "not the overtaken value");
        assert_eq!(call!(waited_for(1)), "1:1");
    }

    static CLEAN_WAITER_DATA: AtomicUsize = AtomicUsize::new(0);
    static CLEAN_WAITER_PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);

    #[cached(cache = cache("race-clean-waiter"), tags = ["race-waiter"])]
    fn tagged_waited_for(n: u32) -> String {
        let value = format!("{n}:{}", CLEAN_WAITER_DATA.load(SeqCst));
        call!(rt::Pause::take_and_wait(&CLEAN_WAITER_PAUSE));
        value
    }

    /// The same after a `clean` of the computation's tag.
    #[test]
    fn a_call_arriving_after_a_clean_is_not_handed_the_overtaken_value() {
        let (computing, arriving) = race_with_newcomer!(cache("race-clean-waiter"), CLEAN_WAITER_PAUSE, tagged_waited_for(1), {
            CLEAN_WAITER_DATA.fetch_add(1, SeqCst);
            clean!(cache("race-clean-waiter"), &["race-waiter"]).expect("clean");
        });
        assert_eq!(computing, "1:0");
        assert_eq!(arriving, "1:1", "not the overtaken value");
        assert_eq!(call!(tagged_waited_for(1)), "1:1");
    }

    static REFRESH_DATA: AtomicUsize = AtomicUsize::new(0);
    static REFRESH_PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);

    #[cached(cache = cache("race-refresh"))]
    fn refreshed(n: u32) -> String {
        let value = format!("{n}:{}", REFRESH_DATA.load(SeqCst));
        call!(rt::Pause::take_and_wait(&REFRESH_PAUSE));
        value
    }

    #[test]
    fn invalidate_beats_an_in_flight_refresh() {
        assert_eq!(call!(refreshed(1)), "1:0");
        let stale = race!(REFRESH_PAUSE, refreshed_refresh(1), {
            REFRESH_DATA.fetch_add(1, SeqCst);
            call!(refreshed_invalidate(1)).expect("invalidate");
        });
        assert_eq!(stale, "1:0");
        assert_eq!(call!(refreshed(1)), "1:1");
    }

    // The same races, with the invalidation made through a second cache on the
    // same backend and prefix: `remote` names the function `twin` has there.

    // Tests run in parallel: each has its own argument `n`, data and pause.
    static TWIN_DATA: [AtomicUsize; 5] = [const { AtomicUsize::new(0) }; 5];
    static TWIN_PAUSES: [Mutex<Option<rt::Pause>>; 5] = [const { Mutex::new(None) }; 5];

    #[cached(cache = cache("race-twin"), name = "race-twin", tags = [format!("twin{n}")])]
    fn twin(n: usize) -> String {
        let value = format!("{n}:{}", TWIN_DATA[n].load(SeqCst));
        call!(rt::Pause::take_and_wait(&TWIN_PAUSES[n]));
        value
    }

    /// `twin`'s entries, seen from the twin cache: only invalidated here.
    #[cached(cache = twin_cache("race-twin"), name = "race-twin", tags = [format!("twin{n}")])]
    fn remote(n: usize) -> String {
        format!("{n}:not called in these tests")
    }

    #[test]
    fn another_caches_invalidate_beats_an_in_flight_computation() {
        let stale = race!(TWIN_PAUSES[1], twin(1), {
            TWIN_DATA[1].fetch_add(1, SeqCst);
            call!(remote_invalidate(1)).expect("invalidate");
        });
        assert_eq!(stale, "1:0", "the racing call itself returns what its body computed");
        assert_eq!(call!(twin(1)), "1:1", "but it was not stored over the invalidation");
    }

    #[test]
    fn a_call_arriving_after_another_caches_invalidation_is_not_handed_the_overtaken_value() {
        let (computing, arriving) = race_with_newcomer!(cache("race-twin"), TWIN_PAUSES[2], twin(2), {
            TWIN_DATA[2].fetch_add(1, SeqCst);
            call!(remote_invalidate(2)).expect("invalidate");
        });
        assert_eq!(computing, "2:0");
        assert_eq!(arriving, "2:1", "not the overtaken value");
        assert_eq!(call!(twin(2)), "2:1");
    }

    #[test]
    fn a_call_arriving_after_another_caches_clean_is_not_handed_the_overtaken_value() {
        let (computing, arriving) = race_with_newcomer!(cache("race-twin"), TWIN_PAUSES[3], twin(3), {
            TWIN_DATA[3].fetch_add(1, SeqCst);
            clean!(twin_cache("race-twin"), &["twin3"]).expect("clean");
        });
        assert_eq!(computing, "3:0");
        assert_eq!(arriving, "3:1", "not the overtaken value");
        assert_eq!(call!(twin(3)), "3:1");
    }

    #[test]
    fn a_call_arriving_after_another_caches_clean_all_is_not_handed_the_overtaken_value() {
        let (computing, arriving) = race_with_newcomer!(cache("race-twin-all"), TWIN_PAUSES[4], twin_all(4), {
            TWIN_DATA[4].fetch_add(1, SeqCst);
            clean_all!(twin_cache("race-twin-all")).expect("clean_all");
        });
        assert_eq!(computing, "4:0");
        assert_eq!(arriving, "4:1", "not the overtaken value");
        assert_eq!(call!(twin_all(4)), "4:1");
    }

    // `clean_all` drops every entry of its namespace: a cache of its own, so
    // that the other races' entries stay.
    #[cached(cache = cache("race-twin-all"), name = "race-twin-all")]
    fn twin_all(n: usize) -> String {
        let value = format!("{n}:{}", TWIN_DATA[n].load(SeqCst));
        call!(rt::Pause::take_and_wait(&TWIN_PAUSES[n]));
        value
    }
}
