//! Round trips per operation against a real redis-server, counted twice: by
//! the backend's own `round_trips()` and by the server's `INFO commandstats`.
//! A hit is one MGET and nothing else; `clean_all` touches nothing but the
//! epoch key of its own prefix.
//!
//! The contract holds for sync functions and for `async fn`s (through the
//! backend's native async connection) alike: the tests run in both modes, in
//! modules `sync` and `r#async`. Each test of each mode has a redis-server of
//! its own, so the `INFO commandstats` deltas of tests running at once never mix.

#![cfg(feature = "redis")]

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;

use cachetool::{cached, Backend};
use cachetool_test_harness::redis::{command_stats, delta};
use support::redis::Setup;

fn stats(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs
        .iter()
        .map(|(name, calls)| (name.to_string(), *calls))
        .collect()
}

/// Runs `$operation` (in the mode's way: `call!`, `clean!`, `clean_all!`) and
/// returns (backend round trips, server command calls) it cost.
macro_rules! cost {
    ($setup:expr, $operation:expr) => {{
        let setup: &Setup = $setup;
        let mut conn = setup.raw();
        let before = command_stats(&mut conn);
        let trips = setup.backend.round_trips();
        $operation;
        let trips = setup.backend.round_trips() - trips;
        let after = command_stats(&mut conn);
        (trips, delta(&before, &after))
    }};
}

/// The backend of `cache(name)` in the mode modules (unused here: every test
/// has a server of its own).
const KIND: support::BackendKind = support::BackendKind::Redis;

support::modes::in_modes! {

    static TAGGED: LazyLock<Setup> = LazyLock::new(|| Setup::new("rt-tagged", |builder| builder));
    static TAGGED_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &TAGGED.cache, name = "tagged", tags = ["a", format!("b{n}")])]
    fn tagged(n: u64) -> u64 {
        TAGGED_RUNS.fetch_add(1, SeqCst);
        n + 1
    }

    #[test]
    fn tagged_miss_hit_invalidate_and_clean_cost_what_the_docs_say() {
        let setup = &*TAGGED;
        // Async calls await the native async connection, not the blocking pool.
        assert!(
            setup.backend.as_async().is_some(),
            "Redis is awaited natively"
        );
        // Loads the store script (a fresh server answers the first EVALSHA with
        // NOSCRIPT, and the backend sends EVAL): one round trip more, once.
        let (trips, calls) = cost!(setup, assert_eq!(call!(tagged(0)), 1));
        assert_eq!(trips, 4, "{calls:?}");
        assert_eq!((calls["eval"], calls["evalsha"]), (1, 1));

        // A miss with a new tag, 3 round trips: MGET; one pipeline (SET lock NX
        // PX, SET NX of the epoch and both tags, MGET of versions and entry); one
        // EVALSHA that stores by compare-and-set (TYPE, SET) and releases the lock
        // by compare-and-delete (GET, DEL). Commands inside scripts count in
        // commandstats too.
        let (trips, calls) = cost!(setup, assert_eq!(call!(tagged(1)), 2));
        assert_eq!(trips, 3, "{calls:?}");
        assert_eq!(
            calls,
            stats(&[
                ("del", 1),
                ("evalsha", 1),
                ("get", 1),
                ("mget", 2),
                ("set", 5),
                ("type", 1)
            ])
        );

        let locks = setup
            .keys()
            .into_iter()
            .filter(|key| key.windows(6).any(|window| window == b":lock:"))
            .count();
        assert_eq!(locks, 0, "the lock went with the store");

        // A hit: exactly one MGET of entry, epoch and both tags, nothing else.
        let (trips, calls) = cost!(setup, assert_eq!(call!(tagged(1)), 2));
        assert_eq!((trips, calls), (1, stats(&[("mget", 1)])));
        assert_eq!(TAGGED_RUNS.load(SeqCst), 2);

        // A warm miss (tags exist, entry new): the same 3 round trips.
        let (trips, _) = cost!(setup, assert_eq!(call!(tagged(2)), 3));
        assert_eq!(trips, 3);

        // invalidate: one SET of a tombstone.
        let (trips, calls) = cost!(setup, call!(tagged_invalidate(1)).expect("invalidate"));
        assert_eq!((trips, calls), (1, stats(&[("set", 1)])));
        assert_eq!(call!(tagged(1)), 2);
        assert_eq!(TAGGED_RUNS.load(SeqCst), 4);

        // clean: one DEL, whatever the number of entries and tags.
        for n in 10..30 {
            call!(tagged(n));
        }
        let (trips, calls) = cost!(
            setup,
            clean!(setup.cache, &["a", "b10", "b11"]).expect("clean")
        );
        assert_eq!((trips, calls), (1, stats(&[("del", 1)])));
        let runs = TAGGED_RUNS.load(SeqCst);
        call!(tagged(12));
        assert_eq!(
            TAGGED_RUNS.load(SeqCst),
            runs + 1,
            "clean of a shared tag drops every entry"
        );
        assert_eq!(setup.cache.stats().errors, 0);
    }

    static UNTAGGED: LazyLock<Setup> =
        LazyLock::new(|| Setup::new("rt-untagged", |builder| builder));
    static UNTAGGED_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &UNTAGGED.cache, name = "untagged")]
    fn untagged(n: u64) -> String {
        UNTAGGED_RUNS.fetch_add(1, SeqCst);
        n.to_string()
    }

    #[cached(cache = &UNTAGGED.cache, name = "unlocked", lock = false)]
    fn unlocked(n: u64) -> u64 {
        n
    }

    #[test]
    fn untagged_hits_are_one_mget_and_unlocked_misses_skip_the_lock() {
        let setup = &*UNTAGGED;
        call!(untagged(1));
        let (trips, calls) = cost!(setup, assert_eq!(call!(untagged(1)), "1"));
        assert_eq!((trips, calls), (1, stats(&[("mget", 1)])));
        assert_eq!(UNTAGGED_RUNS.load(SeqCst), 1);

        // Without the lock, a miss whose versions exist: MGET, then the store.
        call!(unlocked(0)); // creates the epoch, loads the script
        let (trips, calls) = cost!(setup, assert_eq!(call!(unlocked(1)), 1));
        assert_eq!(
            (trips, calls),
            (
                2,
                stats(&[("evalsha", 1), ("type", 1), ("mget", 1), ("set", 1)])
            )
        );
    }

    #[test]
    fn clean_all_is_one_set_and_leaves_other_prefixes_and_foreign_keys_alone() {
        let setup = Setup::new("rt-clean-all", |builder| builder);
        let other = setup.cache.clone();
        let neighbour = cachetool::Cache::builder()
            .backend(setup.backend.clone())
            .prefix(format!("{}-neighbour", setup.cache.prefix()))
            .build()
            .unwrap();
        let mut conn = setup.raw();
        let _: () = redis::cmd("SET")
            .arg("foreign:key")
            .arg("theirs")
            .query(&mut conn)
            .unwrap();
        for cache in [&other, &neighbour] {
            // Values through the trait, so that this test needs no macro.
            cache
                .backend()
                .set(
                    &format!("{}:entry:f:1", cache.prefix()),
                    b"x".to_vec().into(),
                    None,
                )
                .unwrap();
        }
        let keys_before: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();

        let (trips, calls) = cost!(&setup, clean_all!(setup.cache).expect("clean_all"));
        assert_eq!(
            (trips, calls),
            (1, stats(&[("set", 1)])),
            "no FLUSHDB, KEYS, SCAN or DEL"
        );

        let mut keys_after: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
        keys_after.retain(|key| *key != format!("{}:epoch", setup.cache.prefix()).into_bytes());
        let mut keys_before = keys_before;
        keys_before.sort();
        keys_after.sort();
        assert_eq!(keys_before, keys_after, "only the epoch key may appear");
        let foreign: String = redis::cmd("GET")
            .arg("foreign:key")
            .query(&mut conn)
            .unwrap();
        assert_eq!(foreign, "theirs");
    }

    static COMPANIONS: LazyLock<Setup> =
        LazyLock::new(|| Setup::new("rt-companions", |builder| builder));
    static COMPANION_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &COMPANIONS.cache, name = "companion", tags = ["a", format!("b{n}")])]
    fn companion(n: u64) -> u64 {
        COMPANION_RUNS.fetch_add(1, SeqCst);
        n + 1
    }

    #[test]
    fn a_peek_and_an_all_hit_many_are_one_mget() {
        let setup = &*COMPANIONS;
        // A peek: one MGET of entry, epoch and tags, and no write (it creates
        // no missing version), found or not.
        let (trips, calls) = cost!(setup, assert_eq!(call!(companion_peek(1)), None));
        assert_eq!((trips, calls), (1, stats(&[("mget", 1)])));
        for n in 0..6 {
            call!(companion(n));
        }
        let (trips, calls) = cost!(setup, assert_eq!(call!(companion_peek(1)), Some(2)));
        assert_eq!((trips, calls), (1, stats(&[("mget", 1)])));

        // Five hits: one MGET of five entries, the epoch and six tags.
        let (trips, calls) = cost!(
            setup,
            assert_eq!(call!(companion_many(1..6)), [2, 3, 4, 5, 6])
        );
        assert_eq!((trips, calls), (1, stats(&[("mget", 1)])));
        assert_eq!(COMPANION_RUNS.load(SeqCst), 6);

        // A hit and a miss: that MGET, then the miss as a single call's after
        // its lookup (one pipeline with the lock, one EVALSHA to store).
        let (trips, calls) = cost!(setup, assert_eq!(call!(companion_many([1, 9])), [2, 10]));
        assert_eq!(trips, 3, "{calls:?}");
        assert_eq!((calls["mget"], calls["evalsha"]), (2, 1));
        assert_eq!(COMPANION_RUNS.load(SeqCst), 7);
    }
}

// A call of the blocking backend itself, in neither mode: the async
// connection's fallback to EVAL is the cold miss of the tagged test above.
#[test]
fn a_flushed_script_cache_falls_back_to_eval() {
    let setup = Setup::new("rt-noscript", |builder| builder);
    let backend = &setup.backend;
    let key = format!("{}:entry:f:1", setup.cache.prefix());
    assert!(backend
        .replace_if(&key, None, b"one".to_vec().into(), None, None)
        .unwrap());
    let mut conn = setup.raw();
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut conn).unwrap();
    let seen = cachetool::Value::from(b"one".to_vec());
    let (trips, calls) = cost!(&setup, {
        assert!(backend
            .replace_if(&key, Some(&seen), b"two".to_vec().into(), None, None)
            .unwrap());
    });
    assert_eq!(
        (trips, calls),
        (
            2,
            stats(&[("eval", 1), ("evalsha", 1), ("get", 1), ("set", 1)])
        )
    );
    // Loaded again by EVAL: the next call is one EVALSHA.
    let seen = cachetool::Value::from(b"two".to_vec());
    let (trips, calls) = cost!(&setup, {
        assert!(backend
            .replace_if(&key, Some(&seen), b"x".to_vec().into(), None, None)
            .unwrap());
    });
    assert_eq!(
        (trips, calls),
        (1, stats(&[("evalsha", 1), ("get", 1), ("set", 1)]))
    );
}
