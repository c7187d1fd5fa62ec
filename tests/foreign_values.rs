//! A value under our key that is not ours to read (another function's type, a
//! tombstone, an older format) is a miss and gets overwritten; never a panic.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cachetool::cached;

support::modes::for_each_mode! {
    static TEXT_RUNS: AtomicUsize = AtomicUsize::new(0);
    static NUMBER_RUNS: AtomicUsize = AtomicUsize::new(0);

    // Two functions forced onto one key path with `name`, returning different types:
    // as after a code change that altered the return type without a `version` bump.
    #[cached(cache = cache("foreign"), name = "shared.identity")]
    fn as_text(n: u32) -> String {
        TEXT_RUNS.fetch_add(1, SeqCst);
        format!("#{n}")
    }

    #[cached(cache = cache("foreign"), name = "shared.identity")]
    fn as_number(n: u32) -> u64 {
        NUMBER_RUNS.fetch_add(1, SeqCst);
        u64::from(n) * 10
    }

    #[test]
    fn a_value_of_another_type_is_a_miss_and_is_overwritten() {
        assert_eq!(call!(as_text(1)), "#1");
        assert_eq!(call!(as_number(1)), 10, "the String under the key is not read as a u64");
        assert_eq!(call!(as_number(1)), 10);
        assert_eq!(NUMBER_RUNS.load(SeqCst), 1, "the u64 overwrote it and now hits");
        assert_eq!(call!(as_text(1)), "#1");
        assert_eq!(TEXT_RUNS.load(SeqCst), 2);
    }

    static V1_RUNS: AtomicUsize = AtomicUsize::new(0);
    static V2_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("foreign"), name = "versioned")]
    fn version_one(n: u32) -> u32 {
        V1_RUNS.fetch_add(1, SeqCst);
        n
    }

    #[cached(cache = cache("foreign"), name = "versioned", version = 2)]
    fn version_two(n: u32) -> u32 {
        V2_RUNS.fetch_add(1, SeqCst);
        n + 1
    }

    #[test]
    fn a_version_bump_orphans_old_entries() {
        assert_eq!(call!(version_one(1)), 1);
        assert_eq!(call!(version_two(1)), 2, "same name and type, but another version: a miss");
        assert_eq!((call!(version_one(1)), call!(version_two(1))), (1, 2));
        assert_eq!([V1_RUNS.load(SeqCst), V2_RUNS.load(SeqCst)], [1, 1]);
    }
}
