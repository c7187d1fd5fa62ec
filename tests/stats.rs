//! The counters after a known sequence of calls.

mod support;

use std::time::Duration;

use cachetool::cached;

support::modes::for_each_mode! {
    #[cached(cache = cache("stats"))]
    fn double(n: u32) -> u32 {
        sleep!(Duration::from_millis(5));
        n * 2
    }

    #[cached(cache = cache("stats"))]
    fn checked(n: u32) -> Result<u32, String> {
        if n == 0 { Err("zero".into()) } else { Ok(n) }
    }

    #[test]
    fn stats_count_hits_misses_loads_and_load_time() {
        let cache = cache("stats");
        assert_eq!(cache.stats().hit_rate(), 0.0, "no call yet");
        call!(double(1)); // miss, load
        call!(double(1)); // hit
        call!(double(2)); // miss, load
        call!(double(1)); // hit
        call!(double_invalidate(1)).unwrap();
        call!(double(1)); // miss, load
        let _ = call!(checked(0)); // miss, failed load
        let stats = cache.stats();
        assert_eq!(stats.hits, 2);
        assert_eq!(stats.misses, 4);
        assert_eq!(stats.loads, 4);
        assert_eq!(stats.load_errors, 1);
        assert_eq!(stats.errors, 0);
        assert_eq!(stats.oversized, 0);
        assert!(stats.load_time >= Duration::from_millis(15), "three 5 ms bodies: {:?}", stats.load_time);
        assert!((stats.hit_rate() - 2.0 / 6.0).abs() < 1e-9, "{}", stats.hit_rate());
    }
}
