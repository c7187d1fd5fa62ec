//! A real 3-node Redis Cluster made by the test harness
//! (`redis-cli --cluster create`): hits, invalidation, `clean`, `clean_all`,
//! the lock, server stats, and what a hit costs on each node.

#![cfg(feature = "redis")]

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock};

use cachetool::{cached, Cache, RedisBackend};
use cachetool_test_harness::cluster::Cluster;
use cachetool_test_harness::redis::{command_stats, delta, raw_connection};

struct Setup {
    cluster: Cluster,
    backend: Arc<RedisBackend>,
    cache: Cache,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let cluster = Cluster::start();
    // The URL form users write: keys in many slots through one cache.
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
        .prefix(support::unique_prefix("cluster"))
        .build()
        .unwrap();
    Setup {
        cluster,
        backend,
        cache,
    }
});

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

/// `INFO commandstats` of every node, summed.
fn cluster_command_stats() -> BTreeMap<String, u64> {
    let mut total = BTreeMap::new();
    for node in &SETUP.cluster.nodes {
        for (name, calls) in command_stats(&mut raw_connection(node)) {
            *total.entry(name).or_insert(0) += calls;
        }
    }
    total
}

#[test]
fn the_cache_works_on_a_three_node_cluster() {
    let setup = &*SETUP;
    // Many keys, so entries and tags land on every node.
    for id in 0..30 {
        assert_eq!(user(id), format!("user {id}"));
        assert_eq!(orders(id), vec![id; 3]);
    }
    for id in 0..30 {
        assert_eq!(user(id), format!("user {id}"));
        assert_eq!(orders(id), vec![id; 3]);
    }
    assert_eq!((RUNS.load(SeqCst), OTHER_RUNS.load(SeqCst)), (30, 30));
    assert_eq!(setup.cache.stats().errors, 0);

    // Entries are spread: every node holds some keys.
    for node in &setup.cluster.nodes {
        let mut conn = raw_connection(node);
        let size: u64 = redis::cmd("DBSIZE").query(&mut conn).unwrap();
        assert!(size > 0, "node {} holds no key", node.address());
    }

    // A hit: one exchange (round_trips + 1) of one GET per key (entry, epoch,
    // 2 tags), pipelined per node, and nothing else on any node.
    let before = cluster_command_stats();
    let trips = setup.backend.round_trips();
    assert_eq!(user(3), "user 3");
    let trips = setup.backend.round_trips() - trips;
    let mut calls = delta(&before, &cluster_command_stats());
    // The snapshots' own INFO calls.
    calls.remove("info");
    assert_eq!(trips, 1);
    assert_eq!(
        calls,
        BTreeMap::from([("get".to_string(), 4)]),
        "a hit is only GETs"
    );

    // A miss of an existing tag set: the GET exchange, the begin_load
    // exchange, and the store with the lock release (two slots: an EVALSHA
    // and an EVAL, pipelined per node in one exchange). Every node already
    // knows the store script (entries were stored on each), so no NOSCRIPT.
    let trips = setup.backend.round_trips();
    assert_eq!(user(1000), "user 1000");
    assert_eq!(setup.backend.round_trips() - trips, 3);

    // invalidate, clean (a tag shared by two functions), clean_all.
    user_invalidate(1).unwrap();
    assert_eq!(user(1), "user 1");
    assert_eq!(RUNS.load(SeqCst), 32);
    setup.cache.clean(&["user:2"]).unwrap();
    assert_eq!((user(2), orders(2)), ("user 2".to_string(), vec![2; 3]));
    assert_eq!((RUNS.load(SeqCst), OTHER_RUNS.load(SeqCst)), (33, 31));
    setup.cache.clean(&["users", "user:5"]).unwrap();
    for id in 0..30 {
        user(id);
    }
    assert_eq!(
        RUNS.load(SeqCst),
        63,
        "clean of the shared tag drops every user"
    );
    assert_eq!(orders(5), vec![5; 3]);
    assert_eq!(OTHER_RUNS.load(SeqCst), 32);
    setup.cache.clean_all().unwrap();
    assert_eq!((user(9), orders(9)), ("user 9".to_string(), vec![9; 3]));
    assert_eq!((RUNS.load(SeqCst), OTHER_RUNS.load(SeqCst)), (64, 33));
    assert_eq!(setup.cache.stats().errors, 0);

    let stats = setup.cache.server_stats().unwrap();
    assert_eq!(stats.servers, 3);
    assert!(
        stats.items > 0 && stats.hits > 0 && stats.memory_bytes > 0,
        "{stats:?}"
    );
}
