//! Round trips of what only Memcached does, against real memcached servers:
//! a hit over two servers is one `gets` per server involved, written to both
//! before either answer is read; and the servers' stats through the cache.
//! What a hit, a miss, `invalidate`, `clean` and `clean_all` cost on
//! Memcached (and on Redis), sync and async, is in `round_trips.rs`.
//!
//! The two-server test runs in both modes (sync functions and `async fn`s,
//! modules `sync` and `r#async`), each with servers of its own.

#![cfg(feature = "memcached")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;

use cachetool::{cached, Backend};
use cachetool_test_harness::memcached::{raw_get, stats};
use support::memcached::Setup;
use support::remote::{cost, counts};

/// The backend of `cache(name)` in the mode modules (unused here: every test
/// has servers of its own).
const KIND: support::BackendKind = support::BackendKind::Memcached;

support::modes::in_modes! {

    static TWO: LazyLock<Setup> =
        LazyLock::new(|| Setup::with_servers("mc-rt-two", 2, &[], |builder| builder));
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
        let before: Vec<_> = addresses.iter().map(|a| stats(a)).collect();
        let (value, trips, calls) = cost!(setup, call!(two_servers(n_here, &same)));
        assert_eq!((value, trips), (n_here * 10, 1), "{calls:?}");
        assert_eq!(calls, counts(&[("cmd_get", 3), ("get_hits", 3)]));
        let after: Vec<_> = addresses.iter().map(|a| stats(a)).collect();
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
        assert_eq!(calls, counts(&[("cmd_get", 3), ("get_hits", 3)]));
        assert_eq!(TWO_RUNS.load(SeqCst), 2);

        // Both servers hold keys, and the server stats sum them.
        let stats = setup.cache.server_stats().expect("server stats");
        assert_eq!(stats.servers, 2);
        // Two entries, the epoch and two tags; the locks are gone.
        assert_eq!(stats.items, 5, "{stats:?}");
        let raw = setup.counts();
        assert_eq!(stats.hits, raw["get_hits"]);
        assert_eq!(stats.items, raw["curr_items"]);
        assert_eq!(stats.memory_bytes, raw["bytes"]);
        // Our stats requests read no keys: get_misses is as the servers said.
        assert_eq!(stats.misses, raw["get_misses"]);
    }

    static BATCHED: LazyLock<Setup> =
        LazyLock::new(|| Setup::with_servers("mc-rt-batched", 2, &[], |builder| builder));
    static BATCHED_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &BATCHED.cache, name = "batched", key = format!("k{n}"))]
    fn batched(n: u64) -> u64 {
        BATCHED_RUNS.fetch_add(1, SeqCst);
        n * 10
    }

    /// How many of the servers hold one of `keys`.
    fn servers_holding(setup: &Setup, keys: &[String]) -> u64 {
        let servers: std::collections::BTreeSet<&str> =
            keys.iter().map(|key| setup.backend.server_of(key)).collect();
        servers.len() as u64
    }

    #[test]
    fn the_misses_of_a_many_are_stored_in_one_request_per_server() {
        let setup = &*BATCHED;
        // The epoch exists.
        assert_eq!(call!(batched(0)), 0);
        let prefix = setup.cache.prefix();
        let epoch = format!("{prefix}:epoch");
        let entry = |n: u64| format!("{prefix}:entry:batched:k{n}");
        let lock = |n: u64| format!("{prefix}:lock:batched:k{n}");
        let items: Vec<u64> = (1..=6).collect();

        // The lookup: one gets per server of the entries and the epoch.
        let mut read: Vec<String> = items.iter().map(|&n| entry(n)).collect();
        read.push(epoch.clone());
        let lookup = servers_holding(setup, &read);
        // Each miss's begin_load: one request per server of its epoch, entry and lock.
        let begins: u64 = items
            .iter()
            .map(|&n| servers_holding(setup, &[epoch.clone(), entry(n), lock(n)]))
            .sum();
        // The stores: each entry's add and each lock's md, one request per server.
        let written: Vec<String> = items.iter().flat_map(|&n| [entry(n), lock(n)]).collect();
        let writes = servers_holding(setup, &written);
        assert_eq!(writes, 2, "the writes go to both servers");

        let (values, trips, calls) = cost!(setup, call!(batched_many(items.clone())));
        assert_eq!(values, [10, 20, 30, 40, 50, 60]);
        assert_eq!(trips, lookup + begins + writes, "{calls:?}");
        // begin_load adds each lock and the epoch; the stores add each entry;
        // each lock is deleted by its md.
        assert_eq!(
            (calls.get("cmd_set"), calls.get("delete_hits")),
            (Some(&18), Some(&6)),
            "{calls:?}"
        );
        for n in &items {
            let lock = lock(*n);
            assert_eq!(raw_get(setup.backend.server_of(&lock), &lock), None, "released");
        }

        // All stored: the same items again are one gets per server.
        let (values, trips, calls) = cost!(setup, call!(batched_many(items.clone())));
        assert_eq!(values, [10, 20, 30, 40, 50, 60]);
        assert_eq!(trips, lookup, "{calls:?}");
        assert_eq!(calls.get("cmd_set"), None, "{calls:?}");
        assert_eq!(BATCHED_RUNS.load(SeqCst), 7);
        assert_eq!(setup.cache.stats().errors, 0);
    }
}

// Server stats through the cache, in neither mode: they have no async twin.
#[test]
fn server_stats_sum_hits_misses_items_and_bytes() {
    let setup = Setup::new("mc-rt-server-stats", |builder| builder);
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
