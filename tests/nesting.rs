//! Cached functions calling cached functions, and themselves, never deadlock.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cachetool::cached;

support::modes::for_each_mode! {
    static FIB_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("nesting"))]
    fn fib(n: u64) -> u64 {
        FIB_RUNS.fetch_add(1, SeqCst);
        if n < 2 { n } else { call!(fib(n - 1)) + call!(fib(n - 2)) }
    }

    #[test]
    fn recursion_on_other_arguments_computes_each_once() {
        assert_eq!(call!(fib(40)), 102_334_155);
        assert_eq!(FIB_RUNS.load(SeqCst), 41);
        assert_eq!(call!(fib(40)), 102_334_155);
        assert_eq!(FIB_RUNS.load(SeqCst), 41);
    }

    static INNER_RUNS: AtomicUsize = AtomicUsize::new(0);
    static OUTER_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("nesting"), tags = ["inner"])]
    fn inner(n: u32) -> u32 {
        INNER_RUNS.fetch_add(1, SeqCst);
        n + 1
    }

    #[cached(cache = cache("nesting"), tags = ["outer"])]
    fn outer(n: u32) -> u32 {
        OUTER_RUNS.fetch_add(1, SeqCst);
        call!(inner(n)) * 10
    }

    #[test]
    fn nested_cached_calls_each_cache_their_own_result() {
        assert_eq!(call!(outer(1)), 20);
        assert_eq!(call!(outer(1)), 20);
        assert_eq!([OUTER_RUNS.load(SeqCst), INNER_RUNS.load(SeqCst)], [1, 1]);
        // The outer entry does not carry the inner tag: cleaning it leaves outer cached.
        clean!(cache("nesting"), &["inner"]).expect("clean");
        assert_eq!(call!(outer(1)), 20);
        assert_eq!([OUTER_RUNS.load(SeqCst), INNER_RUNS.load(SeqCst)], [1, 1]);
        assert_eq!(call!(inner(1)), 2);
        assert_eq!(INNER_RUNS.load(SeqCst), 2);
        clean!(cache("nesting"), &["outer"]).expect("clean");
        assert_eq!(call!(outer(1)), 20);
        assert_eq!([OUTER_RUNS.load(SeqCst), INNER_RUNS.load(SeqCst)], [2, 2]);
    }

    static SAME_KEY_RUNS: AtomicUsize = AtomicUsize::new(0);

    /// Calls itself once with the very same arguments: the inner call must not
    /// wait for the outer one (that would be waiting for itself).
    #[cached(cache = cache("nesting"))]
    fn reenter(n: u32) -> u32 {
        let depth = SAME_KEY_RUNS.fetch_add(1, SeqCst);
        if depth == 0 { call!(reenter(n)) + 1 } else { n }
    }

    #[test]
    fn a_call_with_its_own_arguments_does_not_wait_for_itself() {
        assert_eq!(call!(reenter(5)), 6);
        assert_eq!(SAME_KEY_RUNS.load(SeqCst), 2);
        assert_eq!(call!(reenter(5)), 6);
        assert_eq!(SAME_KEY_RUNS.load(SeqCst), 2);
    }
}
