//! `jitter = 0.1`: each stored entry's TTL is drawn within 10% of `ttl`,
//! either way. Read back as the servers hold them (`admin::inspect`): every
//! remaining TTL is inside the range, and they spread across it.

#![cfg(any(feature = "redis", feature = "memcached"))]

mod support;

use std::time::{Duration, Instant};

use cachetool::{admin, cached};

/// The function's `ttl`, in seconds: long enough that none expires during the test.
const TTL_SECS: u64 = 1000;
/// Entries written: with 200 uniform draws, the chance that none falls in
/// the lowest (or highest) quarter of the range is 0.75^200, below 1e-24.
const ENTRIES: u64 = 200;

support::modes::for_each_remote_mode! {
    #[cached(cache = cache("jitter"), name = "jitter.read", ttl = 1000, jitter = 0.1)]
    fn read(n: u64) -> u64 {
        n
    }

    #[test]
    fn entries_ttls_spread_within_the_fraction_either_way() {
        let started = Instant::now();
        for n in 0..ENTRIES {
            assert_eq!(call!(read(n)), n);
        }
        let cache = cache("jitter");
        let mut ttls = Vec::new();
        for n in 0..ENTRIES {
            let key = admin::entry_key(cache.prefix(), "jitter.read", &[n]).unwrap();
            let stored = admin::inspect(cache, &key).unwrap().expect("the entry is stored");
            ttls.push(stored.ttl.expect("the entry expires"));
        }
        // The remaining TTLs have run down by at most the time since the
        // first store; Memcached counts in whole seconds, rounded up when set.
        let elapsed = started.elapsed();
        let (low, high) = (TTL_SECS * 9 / 10, TTL_SECS * 11 / 10);
        let lowest_allowed = Duration::from_secs(low - 1).saturating_sub(elapsed);
        for ttl in &ttls {
            assert!(*ttl >= lowest_allowed, "{ttl:?} is below {low}s (elapsed {elapsed:?})");
            assert!(*ttl <= Duration::from_secs(high), "{ttl:?} is above {high}s");
        }
        let quarter = (high - low) / 4;
        let min = ttls.iter().min().unwrap();
        let max = ttls.iter().max().unwrap();
        assert!(
            *min < Duration::from_secs(low + quarter),
            "no TTL in the lowest quarter of the range: lowest {min:?}"
        );
        assert!(
            *max > Duration::from_secs(high - quarter),
            "no TTL in the highest quarter of the range: highest {max:?}"
        );
    }
}
