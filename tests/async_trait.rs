//! `#[cached]` on methods of `#[async_trait]` impls: cached like any async
//! method, keyed per implementor, usable through `dyn Trait`. Such methods
//! have no companions (they would have to be members of the trait), so these
//! tests invalidate through tags.
#![cfg(feature = "tokio")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use async_trait::async_trait;
use cachetool::cached;

support::for_each_backend! {
    #[async_trait]
    trait Repo: Send + Sync {
        async fn find(&self, id: u64) -> Result<String, String>;
    }

    static FIRST_RUNS: AtomicUsize = AtomicUsize::new(0);
    static SECOND_RUNS: AtomicUsize = AtomicUsize::new(0);

    struct First {
        prefix: String,
    }
    struct Second;

    #[async_trait]
    impl Repo for First {
        #[cached(cache = cache("async-trait"), tags = ["repo", format!("row:{id}")])]
        async fn find(&self, id: u64) -> Result<String, String> {
            FIRST_RUNS.fetch_add(1, SeqCst);
            tokio::task::yield_now().await;
            if id == 0 {
                return Err("no row 0".into());
            }
            Ok(format!("{}{id}", self.prefix))
        }
    }

    #[async_trait]
    impl Repo for Second {
        #[cached(cache = cache("async-trait"), tags = ["repo"])]
        async fn find(&self, id: u64) -> Result<String, String> {
            SECOND_RUNS.fetch_add(1, SeqCst);
            Ok(format!("second {id}"))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn async_trait_methods_are_cached_per_implementor() {
        let first: Box<dyn Repo> = Box::new(First { prefix: "first ".into() });
        let second: Box<dyn Repo> = Box::new(Second);
        for _ in 0..3 {
            assert_eq!(first.find(1).await, Ok("first 1".into()));
            assert_eq!(second.find(1).await, Ok("second 1".into()), "another implementor, another entry");
        }
        assert_eq!([FIRST_RUNS.load(SeqCst), SECOND_RUNS.load(SeqCst)], [1, 1]);

        assert_eq!(first.find(0).await, Err("no row 0".into()));
        assert_eq!(first.find(0).await, Err("no row 0".into()));
        assert_eq!(FIRST_RUNS.load(SeqCst), 3, "an Err is never stored");

        cache("async-trait").clean_async(&["row:1"]).await.expect("clean");
        assert_eq!(first.find(1).await, Ok("first 1".into()));
        assert_eq!(second.find(1).await, Ok("second 1".into()));
        assert_eq!([FIRST_RUNS.load(SeqCst), SECOND_RUNS.load(SeqCst)], [4, 1]);

        let tasks: Vec<_> = (0..20)
            .map(|_| tokio::spawn(async { First { prefix: "first ".into() }.find(9).await }))
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok("first 9".into()));
        }
        assert_eq!(FIRST_RUNS.load(SeqCst), 5, "20 concurrent tasks, one computation");
    }

    #[async_trait]
    trait Lister: Send + Sync {
        async fn list(&self, limit: usize) -> Vec<u64>;
    }

    static LIST_RUNS: AtomicUsize = AtomicUsize::new(0);

    struct Rows;

    #[async_trait]
    impl Lister for Rows {
        /// A short page (fewer rows than asked for) is not stored: `unless`
        /// uses the method's own argument, inside `#[async_trait]`'s future.
        #[cached(cache = cache("async-trait-unless"), unless = |rows| rows.len() < limit)]
        async fn list(&self, limit: usize) -> Vec<u64> {
            LIST_RUNS.fetch_add(1, SeqCst);
            (0..limit.min(3) as u64).collect()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unless_sees_the_methods_arguments_in_an_async_trait_impl() {
        let rows: Box<dyn Lister> = Box::new(Rows);
        assert_eq!(rows.list(2).await, [0, 1]);
        assert_eq!(rows.list(2).await, [0, 1]);
        assert_eq!(LIST_RUNS.load(SeqCst), 1, "a full page is stored");
        assert_eq!(rows.list(5).await, [0, 1, 2]);
        assert_eq!(rows.list(5).await, [0, 1, 2]);
        assert_eq!(LIST_RUNS.load(SeqCst), 3, "a short page is returned, not stored");
    }
}
