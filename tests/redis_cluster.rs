//! A real 3-node Redis Cluster made by the test harness (`redis-cli --cluster
//! create`): misses, hits, the lock, invalidation, `clean`, `clean_all`,
//! server stats, what a hit costs on each node, each of those methods one
//! exchange (`round_trips()` + 1), and the stores of a `_many`'s misses in
//! one exchange. Run in both modes (sync functions on
//! the blocking connections, `async fn`s on the native async cluster
//! connection), each mode on a cluster of its own so that the command
//! counts of one never see the other's.

#![cfg(feature = "redis")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock};

use cachetool::{cached, Backend, Cache, RedisBackend};
use cachetool_test_harness::cluster::Cluster;
use cachetool_test_harness::redis::raw_connection;
use support::remote::{counts, RemoteBackend};

/// The backend of `cache(name)` in the mode modules (unused here: each mode
/// has a cluster of its own).
const KIND: support::BackendKind = support::BackendKind::Redis;

struct Setup {
    cluster: Cluster,
    backend: Arc<RedisBackend>,
    cache: Cache,
}

impl Setup {
    /// A new cluster, checked first through the URL form users write (keys in
    /// many slots through one cache), and a cache on it.
    fn start(name: &str) -> Setup {
        let cluster = Cluster::start();
        let from_url = Cache::from_url(&cluster.url()).unwrap();
        let keys: Vec<String> = (0..20).map(|n| format!("from-url:{n}")).collect();
        for key in &keys {
            from_url
                .backend()
                .set(key, key.as_bytes().to_vec().into(), None)
                .unwrap();
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let values = from_url.backend().get_many(&keys).unwrap();
        for (key, value) in keys.iter().zip(&values) {
            assert_eq!(
                value.as_ref().and_then(|value| value.as_bytes()),
                Some(key.as_bytes())
            );
        }
        from_url.backend().delete_many(&keys).unwrap();
        assert!(from_url
            .backend()
            .get_many(&keys)
            .unwrap()
            .iter()
            .all(Option::is_none));
        let backend = Arc::new(RedisBackend::open(&cluster.url(), &Default::default()).unwrap());
        let cache = Cache::builder()
            .backend(backend.clone())
            .prefix(support::unique_prefix(name))
            .build()
            .unwrap();
        Setup {
            cluster,
            backend,
            cache,
        }
    }
}

/// `trips!(setup, operation)`: runs the operation (which may `.await`) and
/// gives its output and the round trips it cost.
macro_rules! trips {
    ($setup:expr, $operation:expr) => {{
        let before = $setup.backend.round_trips();
        let output = $operation;
        (output, $setup.backend.round_trips() - before)
    }};
}

/// `user` as a sync function in either mode, on `cache`: the same name, so
/// the same entries (in async mode, the sync twin of the `async fn`).
#[cached(cache = cache, name = "user", tags = [format!("user:{id}"), "users"], skip(cache, runs))]
fn user_sync(cache: &Cache, runs: &AtomicUsize, id: u64) -> String {
    runs.fetch_add(1, SeqCst);
    format!("user {id}")
}

support::modes::in_modes! {
    static SETUP: LazyLock<Setup> = LazyLock::new(|| Setup::start("cluster"));
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    static OTHER_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &SETUP.cache, name = "user", tags = [format!("user:{id}"), "users"])]
    fn user(id: u64) -> String {
        RUNS.fetch_add(1, SeqCst);
        format!("user {id}")
    }

    #[cached(cache = &SETUP.cache, name = "orders", tags = [format!("user:{id}")])]
    fn orders(id: u64) -> Vec<u64> {
        OTHER_RUNS.fetch_add(1, SeqCst);
        vec![id; 3]
    }

    #[test]
    fn the_cache_works_on_a_three_node_cluster() {
        let setup = &*SETUP;
        // Async calls await the native async connection (there is one with the tokio feature).
        assert_eq!(setup.backend.as_async().is_some(), cfg!(feature = "tokio"));
        // Many keys, so entries and tags land on every node.
        for _ in 0..2 {
            for id in 0..30 {
                assert_eq!(call!(user(id)), format!("user {id}"));
                assert_eq!(call!(orders(id)), vec![id; 3]);
            }
        }
        assert_eq!((RUNS.load(SeqCst), OTHER_RUNS.load(SeqCst)), (30, 30));
        assert_eq!(setup.cache.stats().errors, 0);
        assert_eq!(setup.cache.stats().hits, 60);

        // Entries are spread: every node holds some keys.
        for node in &setup.cluster.nodes {
            let size: u64 = redis::cmd("DBSIZE").query(&mut raw_connection(node)).unwrap();
            assert!(size > 0, "node {} holds no key", node.address());
        }

        // A hit: one exchange of one GET per key (entry, epoch, 2 tags),
        // pipelined per node, and nothing else on any node.
        let before = RedisBackend::counts(&setup.cluster.nodes);
        let (value, trips) = trips!(setup, call!(user(3)));
        assert_eq!(value, "user 3");
        let mut calls = RedisBackend::delta(&before, &RedisBackend::counts(&setup.cluster.nodes));
        // The snapshots' own INFO calls.
        calls.remove("info");
        assert_eq!(trips, 1);
        assert_eq!(calls, counts(&[("get", 4)]), "a hit is only GETs");

        // A miss of an existing tag set: the GET exchange, the begin_load
        // exchange, and the store with the lock release (two slots: an
        // EVALSHA and an EVAL, pipelined per node in one exchange). Every
        // node already knows the store script (entries were stored on each),
        // so no NOSCRIPT. No lock key is left.
        let (value, trips) = trips!(setup, call!(user(1000)));
        assert_eq!((value.as_str(), trips), ("user 1000", 3));
        for node in &setup.cluster.nodes {
            let locks: Vec<Vec<u8>> = redis::cmd("KEYS")
                .arg(format!("{}:lock:*", setup.cache.prefix()))
                .query(&mut raw_connection(node))
                .unwrap();
            assert!(locks.is_empty(), "{locks:?}");
        }

        // A sync function of the same name reads the same entry: a hit.
        let runs = RUNS.load(SeqCst);
        let sync = std::thread::scope(|scope| {
            scope.spawn(|| user_sync(&setup.cache, &RUNS, 5)).join().unwrap()
        });
        assert_eq!(sync, "user 5");
        assert_eq!(RUNS.load(SeqCst), runs, "a hit for the sync twin");

        // invalidate, clean (a tag shared by two functions), clean of the
        // tag all users share, clean_all: each one exchange.
        let (outcome, trips) = trips!(setup, call!(user_invalidate(1)));
        outcome.unwrap();
        assert_eq!(trips, 1);
        assert_eq!(call!(user(1)), "user 1");
        assert_eq!(RUNS.load(SeqCst), 32);
        let (outcome, trips) = trips!(setup, clean!(setup.cache, &["user:2", "user:4"]));
        outcome.unwrap();
        assert_eq!(trips, 1);
        assert_eq!((call!(user(2)), call!(orders(2))), ("user 2".to_string(), vec![2; 3]));
        assert_eq!((RUNS.load(SeqCst), OTHER_RUNS.load(SeqCst)), (33, 31));
        clean!(setup.cache, &["users", "user:5"]).unwrap();
        for id in 0..30 {
            call!(user(id));
        }
        assert_eq!(
            RUNS.load(SeqCst),
            63,
            "clean of the shared tag drops every user"
        );
        assert_eq!(call!(orders(5)), vec![5; 3]);
        assert_eq!(OTHER_RUNS.load(SeqCst), 32);
        let (outcome, trips) = trips!(setup, clean_all!(setup.cache));
        outcome.unwrap();
        assert_eq!(trips, 1);
        assert_eq!((call!(user(9)), call!(orders(9))), ("user 9".to_string(), vec![9; 3]));
        assert_eq!((RUNS.load(SeqCst), OTHER_RUNS.load(SeqCst)), (64, 33));
        assert_eq!(setup.cache.stats().errors, 0);

        let stats = setup.cache.server_stats().unwrap();
        assert_eq!(stats.servers, 3);
        assert!(
            stats.items > 0 && stats.hits > 0 && stats.memory_bytes > 0,
            "{stats:?}"
        );
    }

    /// A backend of its own on this mode's cluster, so that its round trips
    /// are this test's alone.
    static BATCHED: LazyLock<(Arc<RedisBackend>, Cache)> = LazyLock::new(|| {
        let backend =
            Arc::new(RedisBackend::open(&SETUP.cluster.url(), &Default::default()).unwrap());
        let cache = Cache::builder()
            .backend(backend.clone())
            .prefix(support::unique_prefix("cluster-batched"))
            .build()
            .unwrap();
        (backend, cache)
    });
    static BATCHED_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &BATCHED.1, name = "batched", tags = [format!("t{n}")])]
    fn batched(n: u64) -> u64 {
        BATCHED_RUNS.fetch_add(1, SeqCst);
        n * 10
    }

    #[test]
    fn the_misses_of_a_many_are_stored_in_one_exchange() {
        let (backend, cache) = &*BATCHED;
        // Entries on every node, so that every node knows the store script.
        for n in 100..130 {
            assert_eq!(call!(batched(n)), n * 10);
        }
        // Eight misses: the GETs of entries, epoch and tags (one exchange);
        // each miss's begin_load; then the eight stores and the eight lock
        // releases (other slots) together: one cluster pipeline, one request
        // per node (sync), or all in flight at once (async).
        let items: Vec<u64> = (1..=8).collect();
        let trips = backend.round_trips();
        let values = call!(batched_many(items.clone()));
        assert_eq!(values, [10, 20, 30, 40, 50, 60, 70, 80]);
        assert_eq!(backend.round_trips() - trips, 1 + 8 + 1);
        for node in &SETUP.cluster.nodes {
            let locks: Vec<Vec<u8>> = redis::cmd("KEYS")
                .arg(format!("{}:lock:*", cache.prefix()))
                .query(&mut raw_connection(node))
                .unwrap();
            assert!(locks.is_empty(), "{locks:?}");
        }
        // All stored: one exchange of GETs.
        let trips = backend.round_trips();
        assert_eq!(call!(batched_many(items.clone())), values);
        assert_eq!(backend.round_trips() - trips, 1);
        assert_eq!(BATCHED_RUNS.load(SeqCst), 30 + 8);
        assert_eq!(cache.stats().errors, 0);
    }
}
