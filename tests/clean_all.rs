//! `clean_all()` empties its own namespace only: another cache with another
//! prefix on the same backend keeps its entries.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cachetool::cached;

support::modes::for_each_mode! {
    static FIRST_RUNS: AtomicUsize = AtomicUsize::new(0);
    static SECOND_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("clean-all-first"), tags = ["shared-tag"])]
    fn first(n: u32) -> u32 {
        FIRST_RUNS.fetch_add(1, SeqCst);
        n
    }

    #[cached(cache = cache("clean-all-second"), tags = ["shared-tag"])]
    fn second(n: u32) -> u32 {
        SECOND_RUNS.fetch_add(1, SeqCst);
        n
    }

    #[test]
    fn clean_all_leaves_other_prefixes_untouched() {
        let (one, two) = (cache("clean-all-first"), cache("clean-all-second"));
        assert!(std::sync::Arc::ptr_eq(one.backend(), two.backend()), "both caches share one backend");
        for n in 0..3 {
            call!(first(n));
            call!(second(n));
        }
        clean_all!(one).expect("clean_all");
        for n in 0..3 {
            assert_eq!(call!(first(n)), n);
            assert_eq!(call!(second(n)), n);
        }
        assert_eq!(FIRST_RUNS.load(SeqCst), 6, "every entry of the first namespace was dropped");
        assert_eq!(SECOND_RUNS.load(SeqCst), 3, "the second namespace kept its entries");

        // Tags are per namespace too.
        clean!(two, &["shared-tag"]).expect("clean");
        call!(first(0));
        call!(second(0));
        assert_eq!([FIRST_RUNS.load(SeqCst), SECOND_RUNS.load(SeqCst)], [6, 4]);
    }
}
