//! Round trips per operation against real memcached servers, counted twice:
//! by the backend's own `round_trips()` and by the servers' `stats` counters
//! (`cmd_get` and `get_hits` count keys read, `cmd_set` storage commands,
//! `delete_hits` deletes, the meta `md` of an unlock among them). A hit is one
//! `gets` per server involved and nothing else; `clean_all` is one `set` and
//! never a `flush_all`.
//!
//! The contract holds for sync functions and for `async fn`s (which call the
//! backend on tokio's blocking pool) alike: the tests run in both modes, in
//! modules `sync` and `r#async`. Each test of each mode has memcached servers
//! of its own, so the `stats` deltas of tests running at once never mix.

#![cfg(feature = "memcached")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;

use cachetool::{cached, Backend};
use cachetool_test_harness::memcached::{counters, delta, raw_get, request};
use support::memcached::Setup;

/// Runs `$operation` (in the mode's way: `call!`, `clean!`, `clean_all!`) and
/// returns its output with the backend round trips and the servers' command
/// counters it cost.
macro_rules! cost {
    ($setup:expr, $operation:expr) => {{
        let setup: &Setup = $setup;
        let before = setup.stats();
        let trips = setup.backend.round_trips();
        let output = $operation;
        let trips = setup.backend.round_trips() - trips;
        let after = setup.stats();
        (output, trips, delta(&before, &after))
    }};
}

/// The backend of `cache(name)` in the mode modules (unused here: every test
/// has servers of its own).
const KIND: support::BackendKind = support::BackendKind::Memcached;

support::modes::in_modes! {

    static TAGGED: LazyLock<Setup> =
        LazyLock::new(|| Setup::new("mc-rt-tagged", 1, &[], |builder| builder));
    static TAGGED_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &TAGGED.cache, name = "tagged", tags = ["a", format!("b{n}")])]
    fn tagged(n: u64) -> u64 {
        TAGGED_RUNS.fetch_add(1, SeqCst);
        n + 1
    }

    #[test]
    fn tagged_miss_hit_invalidate_and_clean_cost_what_the_docs_say() {
        let setup = &*TAGGED;
        // A cold miss: gets of entry, epoch and both tags (4 misses); one pipeline
        // of add lock, add epoch and tags, gets of versions, entry and lock; the
        // store (add) and the unlock (md with the lock's cas id) in one write.
        let (value, trips, calls) = cost!(setup, call!(tagged(0)));
        assert_eq!(value, 1);
        assert_eq!(trips, 3, "{calls:?}");
        assert_eq!(
            calls,
            counters(&[
                ("cmd_get", 9),
                ("get_hits", 4),
                ("get_misses", 5),
                ("cmd_set", 5),
                ("delete_hits", 1)
            ])
        );

        // A hit: one gets of entry, epoch and both tags, nothing else.
        let (value, trips, calls) = cost!(setup, call!(tagged(0)));
        assert_eq!((value, trips), (1, 1));
        assert_eq!(calls, counters(&[("cmd_get", 4), ("get_hits", 4)]));
        assert_eq!(TAGGED_RUNS.load(SeqCst), 1);

        // A warm miss (epoch and tag a exist, b1 is new): the same 3 round trips.
        let (value, trips, _) = cost!(setup, call!(tagged(1)));
        assert_eq!((value, trips), (2, 3));

        // invalidate: one set of a tombstone.
        let (outcome, trips, calls) = cost!(setup, call!(tagged_invalidate(1)));
        outcome.expect("invalidate");
        assert_eq!((trips, calls), (1, counters(&[("cmd_set", 1)])));
        // The next call replaces the tombstone with cas (its cas id noted when read): still 3.
        let (value, trips, calls) = cost!(setup, call!(tagged(1)));
        assert_eq!((value, trips), (2, 3), "{calls:?}");
        assert_eq!(calls.get("cas_hits"), Some(&1), "{calls:?}");
        assert_eq!(TAGGED_RUNS.load(SeqCst), 3);

        // clean: one round trip of deletes, whatever the number of entries and tags.
        for n in 10..30 {
            call!(tagged(n));
        }
        let (outcome, trips, calls) = cost!(setup, clean!(setup.cache, &["a", "b10", "b11"]));
        outcome.expect("clean");
        assert_eq!((trips, calls), (1, counters(&[("delete_hits", 3)])));
        let runs = TAGGED_RUNS.load(SeqCst);
        call!(tagged(12));
        assert_eq!(
            TAGGED_RUNS.load(SeqCst),
            runs + 1,
            "clean of a shared tag drops every entry"
        );
    }

    static UNLOCKED: LazyLock<Setup> =
        LazyLock::new(|| Setup::new("mc-rt-unlocked", 1, &[], |builder| builder));

    #[cached(cache = &UNLOCKED.cache, name = "unlocked", lock = false)]
    fn unlocked(n: u64) -> u64 {
        n
    }

    #[cached(cache = &UNLOCKED.cache, name = "untagged")]
    fn untagged(n: u64) -> String {
        n.to_string()
    }

    #[test]
    fn untagged_hits_are_one_gets_and_unlocked_misses_skip_the_lock() {
        let setup = &*UNLOCKED;
        call!(untagged(1));
        let (value, trips, calls) = cost!(setup, call!(untagged(1)));
        assert_eq!((value.as_str(), trips), ("1", 1));
        assert_eq!(calls, counters(&[("cmd_get", 2), ("get_hits", 2)]));

        // Without the lock, a miss whose versions exist: gets, then the store (add).
        call!(unlocked(0));
        let (value, trips, calls) = cost!(setup, call!(unlocked(1)));
        assert_eq!((value, trips), (1, 2));
        assert_eq!(
            calls,
            counters(&[
                ("cmd_get", 2),
                ("get_hits", 1),
                ("get_misses", 1),
                ("cmd_set", 1)
            ])
        );
    }

    #[test]
    fn clean_all_is_one_set_and_leaves_other_prefixes_and_foreign_keys_alone() {
        let setup = Setup::new("mc-rt-clean-all", 1, &[], |builder| builder);
        let address = &setup.addresses()[0];
        let neighbour = cachetool::Cache::builder()
            .backend(setup.backend.clone())
            .prefix(format!("{}-neighbour", setup.cache.prefix()))
            .build()
            .unwrap();
        request(
            address,
            b"set foreign:key 0 0 6\r\ntheirs\r\n",
            &[b"STORED\r\n"],
        );
        let mine = format!("{}:entry:f:1", setup.cache.prefix());
        let theirs = format!("{}:entry:f:1", neighbour.prefix());
        for key in [&mine, &theirs] {
            setup.backend.set(key, b"x".to_vec().into(), None).unwrap();
        }

        let (outcome, trips, calls) = cost!(&setup, clean_all!(setup.cache));
        outcome.expect("clean_all");
        assert_eq!(
            (trips, calls),
            (1, counters(&[("cmd_set", 1)])),
            "no flush_all, no delete"
        );
        assert_eq!(setup.stats()["cmd_flush"], 0);

        assert_eq!(
            raw_get(address, "foreign:key").as_deref(),
            Some(&b"theirs"[..])
        );
        assert_eq!(raw_get(address, &theirs).as_deref(), Some(&b"x"[..]));
        // Even our own entries stay (they are orphaned by the new epoch, not deleted).
        assert_eq!(raw_get(address, &mine).as_deref(), Some(&b"x"[..]));
    }

    static TWO: LazyLock<Setup> =
        LazyLock::new(|| Setup::new("mc-rt-two", 2, &[], |builder| builder));
    static TWO_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &TWO.cache, name = "two", key = format!("k{n}"), tags = [tag.to_owned()])]
    fn two_servers(n: u64, tag: &str) -> u64 {
        let _ = tag;
        TWO_RUNS.fetch_add(1, SeqCst);
        n * 10
    }

    /// A tag whose key is on the server `wanted` (`true`: the epoch's server).
    fn tag_on(setup: &Setup, same_as_epoch: bool) -> String {
        let epoch_server = setup
            .backend
            .server_of(&format!("{}:epoch", setup.cache.prefix()));
        (0..1000)
            .map(|n| format!("t{n}"))
            .find(|tag| {
                let server = setup
                    .backend
                    .server_of(&format!("{}:tag:{tag}", setup.cache.prefix()));
                (server == epoch_server) == same_as_epoch
            })
            .expect("a tag on each server among 1000")
    }

    #[test]
    fn with_two_servers_a_hit_is_one_gets_per_server_involved() {
        let setup = &*TWO;
        let addresses = setup.addresses();
        let prefix = setup.cache.prefix();
        let epoch_server = setup
            .backend
            .server_of(&format!("{prefix}:epoch"))
            .to_owned();
        // An entry on the epoch's server, with a tag there too: one server, one round trip.
        let n_here = (0..1000)
            .find(|n| setup.backend.server_of(&format!("{prefix}:entry:two:k{n}")) == epoch_server)
            .unwrap();
        let n_there = (0..1000)
            .find(|n| setup.backend.server_of(&format!("{prefix}:entry:two:k{n}")) != epoch_server)
            .unwrap();
        let same = tag_on(setup, true);
        let other = tag_on(setup, false);

        call!(two_servers(n_here, &same));
        let before: Vec<_> = addresses
            .iter()
            .map(|a| cachetool_test_harness::memcached::stats(a))
            .collect();
        let (value, trips, calls) = cost!(setup, call!(two_servers(n_here, &same)));
        assert_eq!((value, trips), (n_here * 10, 1), "{calls:?}");
        assert_eq!(calls, counters(&[("cmd_get", 3), ("get_hits", 3)]));
        let after: Vec<_> = addresses
            .iter()
            .map(|a| cachetool_test_harness::memcached::stats(a))
            .collect();
        let gets: Vec<u64> = before
            .iter()
            .zip(&after)
            .map(|(b, a)| a["cmd_get"] - b["cmd_get"])
            .collect();
        assert!(
            gets.contains(&3) && gets.contains(&0),
            "all on one server: {gets:?}"
        );

        // Entry and tag on the other server: two servers, two round trips (written
        // to both before either answer is read), and still no other command.
        call!(two_servers(n_there, &other));
        let (value, trips, calls) = cost!(setup, call!(two_servers(n_there, &other)));
        assert_eq!((value, trips), (n_there * 10, 2), "{calls:?}");
        assert_eq!(calls, counters(&[("cmd_get", 3), ("get_hits", 3)]));
        assert_eq!(TWO_RUNS.load(SeqCst), 2);

        // Both servers hold keys, and the server stats sum them.
        let stats = setup.cache.server_stats().expect("server stats");
        assert_eq!(stats.servers, 2);
        // Two entries, the epoch and two tags; the locks are gone.
        assert_eq!(stats.items, 5, "{stats:?}");
        let raw = setup.stats();
        assert_eq!(stats.hits, raw["get_hits"]);
        assert_eq!(stats.items, raw["curr_items"]);
        assert_eq!(stats.memory_bytes, raw["bytes"]);
        // Our stats requests read no keys: get_misses is as the servers said.
        assert_eq!(stats.misses, raw["get_misses"]);
    }

    static COMPANIONS: LazyLock<Setup> =
        LazyLock::new(|| Setup::new("mc-rt-companions", 2, &[], |builder| builder));
    static COMPANION_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &COMPANIONS.cache, name = "companion", key = format!("k{n}"), tags = [format!("t{n}")])]
    fn companion(n: u64) -> u64 {
        COMPANION_RUNS.fetch_add(1, SeqCst);
        n + 1
    }

    /// The servers holding the entries of `items`, the epoch and their tags.
    fn servers_of(setup: &Setup, items: &[u64]) -> std::collections::BTreeSet<String> {
        let prefix = setup.cache.prefix();
        let mut keys = vec![format!("{prefix}:epoch")];
        for n in items {
            keys.push(format!("{prefix}:entry:companion:k{n}"));
            keys.push(format!("{prefix}:tag:t{n}"));
        }
        keys.iter()
            .map(|key| setup.backend.server_of(key).to_owned())
            .collect()
    }

    #[test]
    fn a_peek_and_an_all_hit_many_are_one_gets_per_server_involved() {
        let setup = &*COMPANIONS;
        let items: Vec<u64> = (0..8).collect();
        for &n in &items {
            call!(companion(n));
        }
        let one = servers_of(setup, &[3]).len() as u64;
        let (value, trips, calls) = cost!(setup, call!(companion_peek(3)));
        assert_eq!((value, trips), (Some(4), one), "{calls:?}");
        assert_eq!(calls, counters(&[("cmd_get", 3), ("get_hits", 3)]));
        let (value, trips, calls) = cost!(setup, call!(companion_peek(100)));
        assert_eq!(value, None);
        assert_eq!(calls.get("cmd_set"), None, "a peek writes nothing: {calls:?}");
        assert_eq!(trips, servers_of(setup, &[100]).len() as u64);

        // Eight hits over both servers: one gets per server, of eight entries,
        // the epoch and eight tags.
        assert_eq!(servers_of(setup, &items).len(), 2, "keys on both servers");
        let (values, trips, calls) = cost!(setup, call!(companion_many(items.clone())));
        assert_eq!(values, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(trips, 2, "{calls:?}");
        assert_eq!(calls, counters(&[("cmd_get", 17), ("get_hits", 17)]));
        assert_eq!(COMPANION_RUNS.load(SeqCst), 8);
    }
}

// Server stats through the cache, in neither mode: they have no async twin.
#[test]
fn server_stats_sum_hits_misses_items_and_bytes() {
    let setup = Setup::new("mc-rt-server-stats", 1, &[], |builder| builder);
    let backend = &setup.backend;
    let key = format!("{}:entry:f:1", setup.cache.prefix());
    backend.set(&key, b"12345".to_vec().into(), None).unwrap();
    backend.get_many(&[&key, &key, "absent"]).unwrap();
    let stats = setup.cache.server_stats().unwrap();
    assert_eq!(
        (stats.servers, stats.hits, stats.misses, stats.items),
        (1, 2, 1, 1)
    );
    assert!(stats.memory_bytes > 5);
    assert!((stats.hit_rate() - 2.0 / 3.0).abs() < 1e-9);
}
