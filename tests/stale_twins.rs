//! `stale` across caches: two `Cache`s on one Redis or Memcached prefix (what
//! two processes are) both serve a stale key, and it is recomputed once: the
//! second cache's recomputation misses, finds the first's holding the key's
//! lock, and takes the value it stores.

#![cfg(any(feature = "redis", feature = "memcached"))]

#[allow(dead_code)]
#[path = "support/capture.rs"]
mod capture;
mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cachetool::cached;
use support::{expiry_grace as grace, short_then_long};

/// The first value's TTL (`support::short_then_long`); the recomputed one
/// lives an hour, so that the checks after it race no expiry.
const TTL: Duration = Duration::from_secs(2);

support::modes::for_each_remote_mode! {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    static PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);

    #[maybe_async]
    fn body() -> u64 {
        let run = RUNS.fetch_add(1, SeqCst) + 1;
        call!(rt::Pause::take_and_wait(&PAUSE));
        run as u64
    }

    #[cached(cache = cache("stale-twins"), name = "stale.twins", ttl = |run: &u64| short_then_long(run), stale = 3600)]
    fn here(id: u32) -> u64 {
        let _ = id;
        call!(body())
    }

    /// The same function, in a second cache on the same prefix.
    #[cached(cache = twin_cache("stale-twins"), name = "stale.twins", ttl = |run: &u64| short_then_long(run), stale = 3600)]
    fn there(id: u32) -> u64 {
        let _ = id;
        call!(body())
    }

    #[test]
    fn two_caches_recompute_a_stale_key_once_through_the_lock() {
        let capture = capture::global();
        let prefix = cache("stale-twins").prefix().to_owned();
        let opened = || {
            let records = capture.of_cache(&prefix);
            records.iter().filter(|record| matches!(record, capture::Record::Opened { .. })).count()
        };
        assert_eq!(call!(here(1)), 1);
        let stored_by = Instant::now();
        sleep!((stored_by + TTL + grace(KIND)).saturating_duration_since(Instant::now()));
        let loads_before = opened();
        let pause = rt::Pause::arm(&PAUSE);
        assert_eq!(call!(here(1)), 1, "stale in the first cache");
        wait!(pause.started);
        assert_eq!(call!(there(1)), 1, "stale in the second cache too");
        // The second cache's recomputation missed (its load span opened) while
        // the first one holds the lock, computing.
        until!(opened() == loads_before + 2, "the second recomputation misses");
        wait!(pause.resume);
        until!(
            cache("stale-twins").__recomputations_running() == 0
                && twin_cache("stale-twins").__recomputations_running() == 0,
            "both recomputations end"
        );
        assert_eq!(RUNS.load(SeqCst), 2, "the body ran once for both caches");
        let mut outcomes: Vec<String> = capture
            .loads(&prefix)
            .iter()
            .map(|load| load["outcome"].clone())
            .collect();
        outcomes.sort();
        assert_eq!(outcomes, ["computed", "computed", "from_another_process"]);
        assert_eq!(call!(there(1)), 2);
        assert_eq!(call!(here(1)), 2);
    }
}
