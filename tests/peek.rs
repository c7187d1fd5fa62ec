//! `foo_peek(args)`: the stored value of these arguments if it is current,
//! without running the function or waiting for a run, counted neither as a
//! hit nor as a miss.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use cachetool::cached;

support::modes::for_each_mode! {
    static USER_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("peek"), tags = [format!("user:{id}")])]
    fn user(id: u64) -> String {
        USER_RUNS.fetch_add(1, SeqCst);
        format!("user {id}")
    }

    #[test]
    fn peek_sees_only_a_current_stored_value_and_never_runs_the_body() {
        assert_eq!(call!(user_peek(1)), None);
        assert_eq!(USER_RUNS.load(SeqCst), 0, "a peek runs nothing");
        assert_eq!(call!(user(1)), "user 1");
        assert_eq!(call!(user_peek(1)).as_deref(), Some("user 1"));
        call!(user_invalidate(1)).expect("invalidate");
        assert_eq!(call!(user_peek(1)), None, "invalidated");
        call!(user(1));
        clean!(cache("peek"), &["user:1"]).expect("clean");
        assert_eq!(call!(user_peek(1)), None, "cleaned");
        assert_eq!(call!(user_refresh(1)), "user 1");
        assert_eq!(call!(user_peek(1)).as_deref(), Some("user 1"));
        assert_eq!(USER_RUNS.load(SeqCst), 3);
    }

    #[cached(cache = cache("peek-stats"))]
    fn counted(id: u64) -> u64 {
        id
    }

    #[test]
    fn a_peek_is_neither_a_hit_nor_a_miss() {
        let cache = cache("peek-stats");
        call!(counted(1));
        let before = cache.stats();
        assert_eq!((call!(counted_peek(1)), call!(counted_peek(2))), (Some(1), None));
        let after = cache.stats();
        assert_eq!((after.hits, after.misses, after.loads), (before.hits, before.misses, before.loads));
    }

    #[cached(cache = cache("peek"))]
    fn parse(text: String) -> Result<u32, String> {
        text.parse().map_err(|_| format!("not a number: {text}"))
    }

    #[test]
    fn the_peek_of_a_result_is_the_ok_value() {
        let peeked: Option<u32> = call!(parse_peek("5".to_string()));
        assert_eq!(peeked, None);
        assert_eq!(call!(parse("5".to_string())), Ok(5));
        assert_eq!(call!(parse_peek("5".to_string())), Some(5));
        assert!(call!(parse("x".to_string())).is_err());
        assert_eq!(call!(parse_peek("x".to_string())), None);
    }

    static PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);

    /// Stops at the pause until the test lets it go.
    #[cached(cache = cache("peek"))]
    fn gated(n: u64) -> u64 {
        call!(rt::Pause::take_and_wait(&PAUSE));
        n * 2
    }

    #[test]
    fn peek_does_not_wait_for_a_computation_in_flight() {
        let pause = rt::Pause::arm(&PAUSE);
        let computing = spawn!({ call!(gated(1)) });
        wait!(pause.started);
        // The body is stopped until the test lets it go: a peek that waited
        // for it would never return, and the test would time out.
        assert_eq!(call!(gated_peek(1)), None);
        wait!(pause.resume);
        assert_eq!(join!(computing).unwrap(), 2);
        assert_eq!(call!(gated_peek(1)), Some(2));
    }
}
