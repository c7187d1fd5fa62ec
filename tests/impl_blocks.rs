//! `#[cached]` on an impl block: every `&self` method is cached with the
//! block's options; a method's own `#[cached(...)]` adds its tags (which may
//! use its own arguments) and replaces the rest; `#[cached(off)]` and methods
//! without `&self` are left alone.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cachetool::cached;

support::modes::for_each_mode! {
    static USER_RUNS: AtomicUsize = AtomicUsize::new(0);
    static STATUS_RUNS: AtomicUsize = AtomicUsize::new(0);
    static UNCACHED_RUNS: AtomicUsize = AtomicUsize::new(0);
    static VERSIONED_RUNS: AtomicUsize = AtomicUsize::new(0);

    struct Repo {
        base: u64,
    }

    // Each test uses a `Repo` of its own `base`, and cleans only its tag.
    #[cached(cache = cache("impl-blocks"), tags = [format!("repo:{}", self.base)])]
    impl Repo {
        #[maybe_async]
        fn user(&self, id: u64) -> String {
            USER_RUNS.fetch_add(1, SeqCst);
            format!("user {} of {}", id, self.base)
        }

        #[cached(tags = [format!("user:{id}")])]
        fn status(&self, id: u64) -> u64 {
            STATUS_RUNS.fetch_add(1, SeqCst);
            self.base + id
        }

        #[cached(off)]
        fn uncached(&self, id: u64) -> u64 {
            UNCACHED_RUNS.fetch_add(1, SeqCst);
            id
        }

        // `version` replaces the block's (unset) version; `cache` is the block's.
        #[cached(version = 2, companions = [invalidate])]
        fn versioned(&self, id: u64) -> u64 {
            VERSIONED_RUNS.fetch_add(1, SeqCst);
            id * 2
        }

        fn new(base: u64) -> Repo {
            Repo { base }
        }

        #[maybe_async]
        fn rebase(&mut self, base: u64) -> u64 {
            self.base = base;
            base
        }
    }

    #[test]
    fn every_ref_self_method_is_cached_with_the_blocks_options() {
        let repo = Repo::new(1);
        assert_eq!(call!(repo.user(7)), "user 7 of 1");
        assert_eq!(call!(repo.user(7)), "user 7 of 1");
        assert_eq!(USER_RUNS.load(SeqCst), 1);
        // The companions exist, as for the method attribute.
        assert_eq!(call!(repo.user_peek(7)).as_deref(), Some("user 7 of 1"));
        call!(repo.user_invalidate(7)).expect("invalidate");
        assert_eq!(call!(repo.user_peek(7)), None);
        assert_eq!(call!(repo.user_many([7, 8])), ["user 7 of 1", "user 8 of 1"]);
        assert_eq!(USER_RUNS.load(SeqCst), 3);
        // The block's tag.
        clean!(cache("impl-blocks"), &["repo:1"]).expect("clean");
        assert_eq!(call!(repo.user(8)), "user 8 of 1");
        assert_eq!(USER_RUNS.load(SeqCst), 4);
    }

    #[test]
    fn a_methods_tags_add_to_the_blocks_and_use_its_arguments() {
        let repo = Repo::new(100);
        assert_eq!((call!(repo.status(1)), call!(repo.status(2))), (101, 102));
        assert_eq!((call!(repo.status(1)), call!(repo.status(2))), (101, 102));
        assert_eq!(STATUS_RUNS.load(SeqCst), 2);
        // Its own tag, over its own argument: only that entry.
        clean!(cache("impl-blocks"), &["user:1"]).expect("clean");
        assert_eq!((call!(repo.status(1)), call!(repo.status(2))), (101, 102));
        assert_eq!(STATUS_RUNS.load(SeqCst), 3);
        // The block's tag too.
        clean!(cache("impl-blocks"), &["repo:100"]).expect("clean");
        assert_eq!((call!(repo.status(1)), call!(repo.status(2))), (101, 102));
        assert_eq!(STATUS_RUNS.load(SeqCst), 5);
    }

    #[test]
    fn off_and_methods_without_ref_self_are_left_alone() {
        let mut repo = Repo::new(0);
        assert_eq!((call!(repo.uncached(3)), call!(repo.uncached(3))), (3, 3));
        assert_eq!(UNCACHED_RUNS.load(SeqCst), 2);
        assert_eq!(call!(repo.rebase(5)), 5);
        assert_eq!(call!(repo.rebase(6)), 6, "`&mut self` is not cached");
        assert_eq!(repo.base, 6);
    }

    #[test]
    fn a_methods_own_options_replace_the_blocks() {
        let repo = Repo::new(2);
        assert_eq!((call!(repo.versioned(4)), call!(repo.versioned(4))), (8, 8));
        assert_eq!(VERSIONED_RUNS.load(SeqCst), 1);
        call!(repo.versioned_invalidate(4)).expect("invalidate");
        assert_eq!(call!(repo.versioned(4)), 8);
        assert_eq!(VERSIONED_RUNS.load(SeqCst), 2);
        // The block's tags still apply.
        clean!(cache("impl-blocks"), &["repo:2"]).expect("clean");
        assert_eq!(call!(repo.versioned(4)), 8);
        assert_eq!(VERSIONED_RUNS.load(SeqCst), 3);
    }

    // Declared with a body that never runs (the impl overrides it), so that
    // it twins into an `async fn` in async mode. The trait declares no
    // companion.
    trait Source {
        #[maybe_async]
        fn read(&self, _id: u64) -> u64 {
            unreachable!("overridden")
        }
    }

    struct Disk;

    static DISK_RUNS: AtomicUsize = AtomicUsize::new(0);

    // A trait impl: the companions go into an inherent `impl Disk`.
    #[cached(cache = cache("impl-blocks"))]
    impl Source for Disk {
        #[maybe_async]
        fn read(&self, id: u64) -> u64 {
            DISK_RUNS.fetch_add(1, SeqCst);
            id + 1
        }
    }

    #[test]
    fn a_trait_impl_block_caches_its_methods_and_its_companions_share_their_entries() {
        let source = Disk;
        assert_eq!((call!(source.read(1)), call!(source.read(1))), (2, 2));
        assert_eq!(DISK_RUNS.load(SeqCst), 1);
        // The inherent companions read and drop what the trait method stored.
        assert_eq!(call!(source.read_peek(1)), Some(2));
        call!(source.read_invalidate(1)).expect("invalidate");
        assert_eq!(call!(source.read_peek(1)), None);
        assert_eq!(call!(source.read(1)), 2);
        assert_eq!(DISK_RUNS.load(SeqCst), 2);
        assert_eq!(call!(source.read_many([1, 2])), [2, 3]);
        assert_eq!(DISK_RUNS.load(SeqCst), 3, "1 was a hit");
        assert_eq!(call!(source.read(2)), 3);
        assert_eq!(call!(source.read_refresh(2)), 3);
        assert_eq!(DISK_RUNS.load(SeqCst), 4);
    }
}
