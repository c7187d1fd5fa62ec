//! Round trips per operation against real servers, counted twice: by the
//! backend's own `round_trips()` and by the servers' own counters (Redis's
//! `INFO commandstats`; memcached's `stats`, where `cmd_get` and `get_hits`
//! count keys read, `cmd_set` storage commands, `delete_hits` deletes, the
//! meta `md` of an unlock among them). A hit is one read and nothing else
//! (one `MGET`; one `gets` per memcached server involved); `clean_all` is one
//! write of the epoch key, never a flush.
//!
//! Written once for both remote backends, and run in both modes: sync
//! functions, and `async fn`s (Redis: its native async connection; Memcached:
//! tokio's blocking pool), in modules `redis::sync`, `memcached::r#async`...
//! Each test of each mode has servers of its own, so the counters of tests
//! running at once never mix. What one backend has alone is in
//! `redis_round_trips.rs` (its scripts) and `memcached_round_trips.rs` (two
//! servers, server stats).

#![cfg(any(feature = "redis", feature = "memcached"))]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;

use cachetool::{cached, Backend, Cache};
use cachetool_test_harness::Kind;
use support::remote::{cost, counts, Counts, RemoteBackend, Setup};

/// The commands of a locked miss of `tagged` on Redis, its store script
/// loaded: MGET of entry, epoch and both tags; one pipeline (SET lock NX PX,
/// SET NX of the epoch and both tags, MGET of versions and entry); one EVALSHA
/// of the script, which stores by compare-and-set (TYPE, SET) and releases the
/// lock by compare-and-delete (GET, DEL), and publishes the change on the
/// prefix's channel (PUBLISH, in the same script call: see `changes/`).
/// Commands inside scripts count in commandstats too.
const REDIS_MISS: &[(&str, u64)] = &[
    ("del", 1),
    ("evalsha", 1),
    ("get", 1),
    ("mget", 2),
    ("publish", 1),
    ("set", 5),
    ("type", 1),
];

/// A `SET` or `DEL` of a namespace's key on Redis: the script (sent as
/// `EVAL`, never `NOSCRIPT`) that writes and then publishes the change.
fn redis_write(command: &'static str) -> [(&'static str, u64); 3] {
    [("eval", 1), (command, 1), ("publish", 1)]
}

support::modes::for_each_remote_mode! {

    /// What the servers count for one operation: Redis's commands, or memcached's counters.
    fn expect(redis: &[(&str, u64)], memcached: &[(&str, u64)]) -> Counts {
        counts(Remote::pick(redis, memcached))
    }

    static TAGGED: LazyLock<Setup<Remote>> =
        LazyLock::new(|| Setup::new("rt-tagged", |builder| builder));
    static TAGGED_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &TAGGED.cache, name = "tagged", tags = ["a", format!("b{n}")])]
    fn tagged(n: u64) -> u64 {
        TAGGED_RUNS.fetch_add(1, SeqCst);
        n + 1
    }

    #[test]
    fn tagged_miss_hit_invalidate_and_clean_cost_what_the_docs_say() {
        let setup = &*TAGGED;
        // Async calls await Redis's native async connection (there is one with
        // the tokio feature), not the blocking pool (where Memcached's run).
        assert_eq!(
            setup.backend.as_async().is_some(),
            Remote::SERVER == Kind::Redis && cfg!(feature = "tokio")
        );

        // A cold miss. Redis: a miss's commands, and the store script sent
        // twice: a fresh server answers its EVALSHA with NOSCRIPT, and the
        // backend sends EVAL (one round trip more, once). Memcached: gets of
        // entry, epoch and both tags (4 misses); one pipeline of add lock, add
        // epoch and tags, gets of versions, entry and lock; the store (add)
        // and the unlock (md with the lock's cas id) in one write.
        let (value, trips, calls) = cost!(setup, call!(tagged(0)));
        assert_eq!((value, trips), (1, Remote::pick(4, 3)), "{calls:?}");
        let redis = [REDIS_MISS, &[("eval", 1)]].concat();
        let memcached = [
            ("cmd_get", 9),
            ("get_hits", 4),
            ("get_misses", 5),
            ("cmd_set", 5),
            ("delete_hits", 1),
        ];
        assert_eq!(calls, expect(&redis, &memcached));

        // A miss with a new tag (b1): 3 round trips; on Memcached, the epoch
        // and tag a are hits now.
        let (value, trips, calls) = cost!(setup, call!(tagged(1)));
        assert_eq!((value, trips), (2, 3), "{calls:?}");
        let memcached = [
            ("cmd_get", 9),
            ("get_hits", 6),
            ("get_misses", 3),
            ("cmd_set", 5),
            ("delete_hits", 1),
        ];
        assert_eq!(calls, expect(REDIS_MISS, &memcached));
        assert_eq!(setup.keys_with(b":lock:"), Vec::<Vec<u8>>::new(), "the lock went with the store");

        // A hit: one read of entry, epoch and both tags, nothing else.
        let (value, trips, calls) = cost!(setup, call!(tagged(1)));
        assert_eq!((value, trips), (2, 1));
        assert_eq!(calls, expect(&[("mget", 1)], &[("cmd_get", 4), ("get_hits", 4)]));
        assert_eq!(TAGGED_RUNS.load(SeqCst), 2);

        // A warm miss (the epoch and tag a exist, the entry is new): the same 3 round trips.
        let (value, trips, _) = cost!(setup, call!(tagged(2)));
        assert_eq!((value, trips), (3, 3));

        // invalidate: one write of a tombstone.
        let (outcome, trips, calls) = cost!(setup, call!(tagged_invalidate(1)));
        outcome.expect("invalidate");
        assert_eq!((trips, calls), (1, expect(&redis_write("set"), &[("cmd_set", 1)])));
        // The next call replaces the tombstone by compare-and-set (on
        // memcached `cas`, with the cas id noted when it read it): still 3.
        let (value, trips, calls) = cost!(setup, call!(tagged(1)));
        assert_eq!((value, trips), (2, 3), "{calls:?}");
        assert_eq!(calls.get("cas_hits"), Remote::pick(None, Some(&1)), "{calls:?}");
        assert_eq!(TAGGED_RUNS.load(SeqCst), 4);

        // clean: one round trip of deletes, whatever the number of entries and
        // tags (Redis: one DEL of the tags; memcached: a delete per tag).
        for n in 10..30 {
            call!(tagged(n));
        }
        let (outcome, trips, calls) = cost!(setup, clean!(setup.cache, &["a", "b10", "b11"]));
        outcome.expect("clean");
        assert_eq!((trips, calls), (1, expect(&redis_write("del"), &[("delete_hits", 3)])));
        let runs = TAGGED_RUNS.load(SeqCst);
        call!(tagged(12));
        assert_eq!(
            TAGGED_RUNS.load(SeqCst),
            runs + 1,
            "clean of a shared tag drops every entry"
        );
        assert_eq!(setup.cache.stats().errors, 0);
    }

    static UNTAGGED: LazyLock<Setup<Remote>> =
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
    fn untagged_hits_are_one_read_and_unlocked_misses_skip_the_lock() {
        let setup = &*UNTAGGED;
        call!(untagged(1));
        let (value, trips, calls) = cost!(setup, call!(untagged(1)));
        assert_eq!((value.as_str(), trips), ("1", 1));
        assert_eq!(calls, expect(&[("mget", 1)], &[("cmd_get", 2), ("get_hits", 2)]));
        assert_eq!(UNTAGGED_RUNS.load(SeqCst), 1);

        // Without the lock, a miss whose versions exist: the read, then the
        // store (Redis: its script; memcached: add).
        call!(unlocked(0)); // creates the epoch (and loads Redis's script)
        let (value, trips, calls) = cost!(setup, call!(unlocked(1)));
        assert_eq!((value, trips), (1, 2));
        assert_eq!(
            calls,
            expect(
                &[("evalsha", 1), ("type", 1), ("mget", 1), ("set", 1), ("publish", 1)],
                &[
                    ("cmd_get", 2),
                    ("get_hits", 1),
                    ("get_misses", 1),
                    ("cmd_set", 1)
                ]
            )
        );
    }

    #[test]
    fn clean_all_is_one_set_and_leaves_other_prefixes_and_foreign_keys_alone() {
        let setup = Setup::<Remote>::new("rt-clean-all", |builder| builder);
        let client = setup.client();
        let neighbour = Cache::builder()
            .backend(setup.backend.clone())
            .prefix(format!("{}-neighbour", setup.cache.prefix()))
            .build()
            .unwrap();
        client.set("foreign:key", b"theirs");
        let mine = format!("{}:entry:f:1", setup.cache.prefix());
        let theirs = format!("{}:entry:f:1", neighbour.prefix());
        for key in [&mine, &theirs] {
            // Values through the trait, so that this test needs no macro.
            setup.backend.set(key, b"x".to_vec().into(), None).unwrap();
        }
        let mut keys_before = client.keys();

        let (outcome, trips, calls) = cost!(&setup, clean_all!(setup.cache));
        outcome.expect("clean_all");
        assert_eq!(
            (trips, calls),
            (1, expect(&redis_write("set"), &[("cmd_set", 1)])),
            "no flush, no delete"
        );
        let counts = setup.counts();
        for flush in ["flushdb", "flushall", "cmd_flush"] {
            assert_eq!(counts.get(flush).copied().unwrap_or(0), 0, "{flush}");
        }

        assert_eq!(client.get("foreign:key").as_deref(), Some(&b"theirs"[..]));
        assert_eq!(client.get(&theirs).as_deref(), Some(&b"x"[..]));
        // Even our own entries stay (they are orphaned by the new epoch, not deleted).
        assert_eq!(client.get(&mine).as_deref(), Some(&b"x"[..]));
        // And no other key appeared but the epoch's. (Only Redis lists its
        // keys exactly: memcached's crawler may skip an item busy at that moment.)
        if Remote::SERVER == Kind::Redis {
            let epoch = format!("{}:epoch", setup.cache.prefix()).into_bytes();
            let mut keys_after = client.keys();
            keys_after.retain(|key| *key != epoch);
            keys_before.sort();
            keys_after.sort();
            assert_eq!(keys_before, keys_after, "only the epoch key may appear");
        }
    }

    /// One server on Redis, two on Memcached: a read goes to every server
    /// holding one of its keys.
    static COMPANIONS: LazyLock<Setup<Remote>> = LazyLock::new(|| {
        Setup::with_servers("rt-companions", Remote::pick(1, 2), &[], |builder| builder)
    });
    static COMPANION_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &COMPANIONS.cache, name = "companion", key = format!("k{n}"), tags = [format!("t{n}")])]
    fn companion(n: u64) -> u64 {
        COMPANION_RUNS.fetch_add(1, SeqCst);
        n + 1
    }

    /// What a read of the entries of `items` reads: the epoch, and each
    /// item's entry and tag.
    fn keys_of(setup: &Setup<Remote>, items: &[u64]) -> Vec<String> {
        let prefix = setup.cache.prefix();
        let mut keys = vec![format!("{prefix}:epoch")];
        for n in items {
            keys.push(format!("{prefix}:entry:companion:k{n}"));
            keys.push(format!("{prefix}:tag:t{n}"));
        }
        keys
    }

    #[test]
    fn a_peek_and_an_all_hit_many_are_one_read_per_server_involved() {
        let setup = &*COMPANIONS;
        let servers_of = |items: &[u64]| setup.backend.servers_holding(&keys_of(setup, items));
        // A peek: one read of entry, epoch and tag per server holding them,
        // and no write (it creates no missing version), found or not.
        let (value, trips, calls) = cost!(setup, call!(companion_peek(1)));
        assert_eq!((value, trips), (None, servers_of(&[1])), "{calls:?}");
        assert_eq!(calls, expect(&[("mget", 1)], &[("cmd_get", 3), ("get_misses", 3)]));
        let items: Vec<u64> = (0..8).collect();
        for &n in &items {
            call!(companion(n));
        }
        let (value, trips, calls) = cost!(setup, call!(companion_peek(3)));
        assert_eq!((value, trips), (Some(4), servers_of(&[3])), "{calls:?}");
        assert_eq!(calls, expect(&[("mget", 1)], &[("cmd_get", 3), ("get_hits", 3)]));
        let (value, trips, calls) = cost!(setup, call!(companion_peek(100)));
        assert_eq!((value, trips), (None, servers_of(&[100])), "{calls:?}");
        assert_eq!(
            calls,
            expect(&[("mget", 1)], &[("cmd_get", 3), ("get_hits", 1), ("get_misses", 2)])
        );

        // Eight hits over every server: one read per server, of eight
        // entries, the epoch and eight tags.
        assert_eq!(servers_of(&items), Remote::pick(1, 2), "keys on every server");
        let (values, trips, calls) = cost!(setup, call!(companion_many(items.clone())));
        assert_eq!(values, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(trips, Remote::pick(1, 2), "{calls:?}");
        assert_eq!(calls, expect(&[("mget", 1)], &[("cmd_get", 17), ("get_hits", 17)]));
        assert_eq!(COMPANION_RUNS.load(SeqCst), 8);

        // A hit and a miss: that read, then the miss as a single call's after
        // its lookup. (On one Redis server: the MGET, then one pipeline with
        // the lock and one EVALSHA to store; memcached's servers each count theirs.)
        let (values, trips, calls) = cost!(setup, call!(companion_many([1, 9])));
        assert_eq!(values, [2, 10]);
        if Remote::SERVER == Kind::Redis {
            assert_eq!(trips, 3, "{calls:?}");
            assert_eq!((calls["mget"], calls["evalsha"]), (2, 1));
        }
        assert_eq!(COMPANION_RUNS.load(SeqCst), 9);
    }
}
