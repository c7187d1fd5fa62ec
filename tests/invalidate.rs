//! `foo_invalidate(args)` drops exactly that entry; `foo_refresh(args)`
//! recomputes and stores.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cachetool::cached;

support::modes::for_each_mode! {

    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("invalidate"))]
    fn power(base: u64, exponent: u32) -> u64 {
        RUNS.fetch_add(1, SeqCst);
        base.pow(exponent)
    }

    #[test]
    fn invalidate_drops_only_the_entry_of_its_arguments() {
        assert_eq!(call!(power(2, 10)), 1024);
        assert_eq!(call!(power(3, 2)), 9);
        assert_eq!(RUNS.load(SeqCst), 2);

        call!(power_invalidate(2, 10)).expect("invalidate");
        assert_eq!(call!(power(3, 2)), 9, "other arguments keep their entry");
        assert_eq!(RUNS.load(SeqCst), 2);
        assert_eq!(call!(power(2, 10)), 1024, "the invalidated entry is computed again");
        assert_eq!(RUNS.load(SeqCst), 3);
        assert_eq!(call!(power(2, 10)), 1024);
        assert_eq!(RUNS.load(SeqCst), 3);
    }

    #[test]
    fn invalidating_an_absent_entry_is_fine() {
        call!(power_invalidate(99, 1)).expect("invalidate of a never-computed entry");
    }

    static VERSION: AtomicUsize = AtomicUsize::new(0);
    static REFRESH_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("invalidate"))]
    fn current(name: &str) -> String {
        REFRESH_RUNS.fetch_add(1, SeqCst);
        format!("{name}@{}", VERSION.load(SeqCst))
    }

    #[test]
    fn refresh_recomputes_now_and_stores_for_the_next_call() {
        assert_eq!(call!(current("a")), "a@0");
        VERSION.store(1, SeqCst);
        assert_eq!(call!(current("a")), "a@0", "still cached");
        assert_eq!(call!(current_refresh("a")), "a@1");
        assert_eq!(call!(current("a")), "a@1", "the refreshed value was stored");
        assert_eq!(REFRESH_RUNS.load(SeqCst), 2);
    }
}
