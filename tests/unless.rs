//! `unless = |value| ...`: a value for which the closure is true is returned
//! but not stored; for a `Result`, the closure sees the `Ok` value.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cachetool::cached;

support::modes::for_each_mode! {
    static NAMES_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("unless"), unless = |names| names.is_empty())]
    fn names(count: usize) -> Vec<String> {
        NAMES_RUNS.fetch_add(1, SeqCst);
        (0..count).map(|n| format!("n{n}")).collect()
    }

    #[test]
    fn a_value_the_closure_rejects_is_returned_and_not_stored() {
        assert!(call!(names(0)).is_empty());
        assert!(call!(names(0)).is_empty());
        assert_eq!(NAMES_RUNS.load(SeqCst), 2, "the empty list was not stored");
        assert_eq!(call!(names_peek(0)), None);
        assert_eq!(call!(names(2)), ["n0", "n1"]);
        assert_eq!(call!(names(2)), ["n0", "n1"]);
        assert_eq!(NAMES_RUNS.load(SeqCst), 3, "the other was");
        // `_refresh` and `_many` store nothing it rejects either.
        assert!(call!(names_refresh(0)).is_empty());
        assert_eq!(call!(names_peek(0)), None);
        assert_eq!(call!(names_many([0, 2])), [vec![], vec!["n0".to_string(), "n1".to_string()]]);
        assert_eq!(NAMES_RUNS.load(SeqCst), 5);
        assert_eq!(call!(names_peek(0)), None);
    }

    static PARSE_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("unless"), unless = |number| *number == 0)]
    fn parse(text: String) -> Result<u32, String> {
        PARSE_RUNS.fetch_add(1, SeqCst);
        text.trim().parse().map_err(|_| format!("not a number: {text}"))
    }

    #[test]
    fn on_a_result_the_closure_sees_the_ok_value() {
        assert_eq!(call!(parse("0".to_string())), Ok(0));
        assert_eq!(call!(parse("0".to_string())), Ok(0));
        assert_eq!(PARSE_RUNS.load(SeqCst), 2, "Ok(0) was not stored");
        assert_eq!(call!(parse("7".to_string())), Ok(7));
        assert_eq!(call!(parse("7".to_string())), Ok(7));
        assert_eq!(PARSE_RUNS.load(SeqCst), 3, "Ok(7) was");
        assert!(call!(parse("x".to_string())).is_err());
        assert!(call!(parse("x".to_string())).is_err());
        assert_eq!(PARSE_RUNS.load(SeqCst), 5, "an Err never is");
    }

    static OPTIONAL_RUNS: AtomicUsize = AtomicUsize::new(0);

    fn is_none(value: &Option<u64>) -> bool {
        value.is_none()
    }

    /// A function instead of a closure.
    #[cached(cache = cache("unless"), unless = is_none)]
    fn find(id: u64) -> Option<u64> {
        OPTIONAL_RUNS.fetch_add(1, SeqCst);
        id.is_multiple_of(2).then_some(id / 2)
    }

    #[test]
    fn a_function_works_as_well() {
        assert_eq!((call!(find(1)), call!(find(1))), (None, None));
        assert_eq!((call!(find(4)), call!(find(4))), (Some(2), Some(2)));
        assert_eq!(OPTIONAL_RUNS.load(SeqCst), 3);
    }

    static PREFIXED_RUNS: AtomicUsize = AtomicUsize::new(0);

    /// A closure over the function's arguments, one of them owned: the body
    /// (an async block in async mode) borrows them along with it.
    #[cached(cache = cache("unless"), unless = |name| name.len() > limit || name.starts_with(skip.as_str()))]
    fn prefixed(limit: usize, skip: String, name: String) -> String {
        PREFIXED_RUNS.fetch_add(1, SeqCst);
        format!("{name}.")
    }

    #[test]
    fn the_closure_may_use_the_arguments() {
        let call = |limit: usize, skip: &str, name: &str| (limit, skip.to_string(), name.to_string());
        let (limit, skip, name) = call(3, "x", "ab");
        assert_eq!(call!(prefixed(limit, skip, name)), "ab.");
        let (limit, skip, name) = call(3, "x", "ab");
        assert_eq!(call!(prefixed_peek(limit, skip, name)).as_deref(), Some("ab."), "stored");
        let (limit, skip, name) = call(2, "x", "ab");
        assert_eq!(call!(prefixed(limit, skip, name)), "ab.");
        let (limit, skip, name) = call(2, "x", "ab");
        assert_eq!(call!(prefixed_peek(limit, skip, name)), None, "longer than `limit`");
        let (limit, skip, name) = call(9, "a", "ab");
        assert_eq!(call!(prefixed(limit, skip, name)), "ab.");
        let (limit, skip, name) = call(9, "a", "ab");
        assert_eq!(call!(prefixed_peek(limit, skip, name)), None, "starts with `skip`");
        assert_eq!(PREFIXED_RUNS.load(SeqCst), 3);
    }
}
