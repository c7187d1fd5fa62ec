//! A tag key or the namespace epoch that disappears from a server (evicted
//! by its LRU, or deleted by hand) makes the entries that recorded it misses,
//! never stale hits. (In memory, versions are not keys: the bounded table of
//! tag versions is checked in `cachetool-runtime/src/local/namespace.rs`.)

mod support;

support::modes::for_each_remote_mode! {
    // Inside: with neither remote backend built, nothing here is compiled.
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use cachetool::cached;

    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("lost-tag"), tags = ["lost"])]
    fn tagged(n: u32) -> u32 {
        RUNS.fetch_add(1, SeqCst);
        n
    }

    #[test]
    fn an_entry_whose_tag_key_disappeared_is_a_miss() {
        let cache = cache("lost-tag");
        call!(tagged(1));
        call!(tagged(1));
        assert_eq!(RUNS.load(SeqCst), 1);
        // What an eviction does: the tag's version key is gone.
        let tag_key = format!("{}:tag:lost", cache.prefix());
        cache.backend().delete_many(&[&tag_key]).unwrap();
        call!(tagged(1));
        assert_eq!(RUNS.load(SeqCst), 2, "a miss, not the entry of the lost version");
        call!(tagged(1));
        assert_eq!(RUNS.load(SeqCst), 2, "stored again under a new version");
    }

    static EPOCH_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("lost-epoch"))]
    fn untagged(n: u32) -> u32 {
        EPOCH_RUNS.fetch_add(1, SeqCst);
        n
    }

    #[test]
    fn an_entry_whose_epoch_disappeared_is_a_miss() {
        let cache = cache("lost-epoch");
        call!(untagged(1));
        call!(untagged(1));
        assert_eq!(EPOCH_RUNS.load(SeqCst), 1);
        let epoch_key = format!("{}:epoch", cache.prefix());
        cache.backend().delete_many(&[&epoch_key]).unwrap();
        call!(untagged(1));
        assert_eq!(EPOCH_RUNS.load(SeqCst), 2, "a miss, not the entry of the lost epoch");
        call!(untagged(1));
        assert_eq!(EPOCH_RUNS.load(SeqCst), 2);
    }
}
