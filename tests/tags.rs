//! `clean(tags)` drops every entry carrying any of the tags, across functions,
//! and leaves entries with other tags alone; tags and keys are expressions
//! over the arguments.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cachetool::cached;

support::modes::for_each_mode! {

    static SQUARE_RUNS: AtomicUsize = AtomicUsize::new(0);
    static CUBE_RUNS: AtomicUsize = AtomicUsize::new(0);
    static TEXT_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("tags"), tags = ["math", "square"])]
    fn square(n: u64) -> u64 {
        SQUARE_RUNS.fetch_add(1, SeqCst);
        n * n
    }

    #[cached(cache = cache("tags"), tags = ["math", "cube"])]
    fn cube(n: u64) -> u64 {
        CUBE_RUNS.fetch_add(1, SeqCst);
        n * n * n
    }

    #[cached(cache = cache("tags"), tags = ["text"])]
    fn shout(text: &str) -> String {
        TEXT_RUNS.fetch_add(1, SeqCst);
        text.to_uppercase()
    }

    #[test]
    fn clean_drops_every_function_sharing_the_tag_and_nothing_else() {
        let cache = cache("tags");
        assert_eq!((call!(square(3)), call!(cube(3)), call!(shout("hi"))), (9, 27, "HI".to_string()));
        assert_eq!((call!(square(3)), call!(cube(3)), call!(shout("hi"))), (9, 27, "HI".to_string()));
        assert_eq!([SQUARE_RUNS.load(SeqCst), CUBE_RUNS.load(SeqCst), TEXT_RUNS.load(SeqCst)], [1, 1, 1]);

        clean!(cache, &["math"]).expect("clean");
        assert_eq!((call!(square(3)), call!(cube(3)), call!(shout("hi"))), (9, 27, "HI".to_string()));
        assert_eq!([SQUARE_RUNS.load(SeqCst), CUBE_RUNS.load(SeqCst), TEXT_RUNS.load(SeqCst)], [2, 2, 1]);

        clean!(cache, &["cube".to_string()]).expect("clean with String tags");
        assert_eq!((call!(square(3)), call!(cube(3))), (9, 27));
        assert_eq!([SQUARE_RUNS.load(SeqCst), CUBE_RUNS.load(SeqCst)], [2, 3]);

        clean!(cache, &["no-such-tag"]).expect("cleaning an unknown tag is fine");
        let no_tags: [&str; 0] = [];
        clean!(cache, &no_tags).expect("cleaning no tag is fine");
        assert_eq!((call!(square(3)), call!(cube(3)), call!(shout("hi"))), (9, 27, "HI".to_string()));
        assert_eq!([SQUARE_RUNS.load(SeqCst), CUBE_RUNS.load(SeqCst), TEXT_RUNS.load(SeqCst)], [2, 3, 1]);
    }

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct User {
        id: u64,
        name: String,
    }

    static USER_RUNS: AtomicUsize = AtomicUsize::new(0);
    static POSTS_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(
        cache = cache("tags-users"),
        tags = ["users", format!("user:{id}")],
        key = format!("user:{id}"),
        ttl = Duration::from_secs(600)
    )]
    fn user(id: u64) -> User {
        USER_RUNS.fetch_add(1, SeqCst);
        User { id, name: format!("user {id}") }
    }

    #[cached(cache = cache("tags-users"), tags = [format!("user:{user_id}")], ttl = 600)]
    fn posts(user_id: u64, page: u32) -> Vec<String> {
        POSTS_RUNS.fetch_add(1, SeqCst);
        vec![format!("post {page} of {user_id}")]
    }

    #[test]
    fn a_computed_tag_drops_everything_about_one_user() {
        let cache = cache("tags-users");
        assert_eq!(call!(user(7)).name, "user 7");
        assert_eq!(call!(user(8)).name, "user 8");
        assert_eq!(call!(posts(7, 1)), vec!["post 1 of 7".to_string()]);
        assert_eq!(call!(posts(8, 1)), vec!["post 1 of 8".to_string()]);
        let _ = (call!(user(7)), call!(user(8)), call!(posts(7, 1)), call!(posts(8, 1)));
        assert_eq!([USER_RUNS.load(SeqCst), POSTS_RUNS.load(SeqCst)], [2, 2]);

        clean!(cache, &["user:7"]).expect("clean");
        let _ = (call!(user(7)), call!(user(8)), call!(posts(7, 1)), call!(posts(8, 1)));
        assert_eq!([USER_RUNS.load(SeqCst), POSTS_RUNS.load(SeqCst)], [3, 3], "only user 7's entries");

        clean!(cache, &["users"]).expect("clean");
        let _ = (call!(user(7)), call!(user(8)), call!(posts(7, 1)), call!(posts(8, 1)));
        assert_eq!([USER_RUNS.load(SeqCst), POSTS_RUNS.load(SeqCst)], [5, 3]);

        call!(user_invalidate(8)).expect("invalidate by custom key");
        let _ = call!(user(8));
        assert_eq!(USER_RUNS.load(SeqCst), 6);
    }
}
