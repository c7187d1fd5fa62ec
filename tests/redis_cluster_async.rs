//! Async functions on a real 3-node Redis Cluster through the backend's
//! native async cluster connection: misses, hits, the lock, invalidation,
//! `clean` and `clean_all`, each method one exchange (`round_trips()` + 1),
//! and sync and async calls seeing one store.

#![cfg(all(feature = "redis", feature = "tokio"))]

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock};

use cachetool::{cached, Backend, Cache, RedisBackend};
use cachetool_test_harness::cluster::Cluster;
use cachetool_test_harness::redis::{command_stats, delta, raw_connection};

struct Setup {
    cluster: Cluster,
    backend: Arc<RedisBackend>,
    cache: Cache,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let cluster = Cluster::start();
    let backend = Arc::new(RedisBackend::open(&cluster.url(), &Default::default()).unwrap());
    let cache = Cache::builder()
        .backend(backend.clone())
        .prefix(support::unique_prefix("cluster-async"))
        .build()
        .unwrap();
    Setup {
        cluster,
        backend,
        cache,
    }
});

fn cluster_command_stats() -> BTreeMap<String, u64> {
    let mut total = BTreeMap::new();
    for node in &SETUP.cluster.nodes {
        for (name, calls) in command_stats(&mut raw_connection(node)) {
            *total.entry(name).or_insert(0) += calls;
        }
    }
    total
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &SETUP.cache, name = "user", tags = ["users", format!("user:{id}")])]
async fn user(id: u64) -> String {
    RUNS.fetch_add(1, SeqCst);
    format!("user {id}")
}

#[cached(cache = &SETUP.cache, name = "user", tags = ["users", format!("user:{id}")])]
fn user_sync(id: u64) -> String {
    RUNS.fetch_add(1, SeqCst);
    format!("user {id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_calls_work_on_a_three_node_cluster() {
    let setup = &*SETUP;
    assert!(setup.backend.as_async().is_some());
    for id in 0..30 {
        assert_eq!(user(id).await, format!("user {id}"));
        assert_eq!(user(id).await, format!("user {id}"));
    }
    assert_eq!(RUNS.load(SeqCst), 30);
    assert_eq!(setup.cache.stats().errors, 0);
    assert_eq!(setup.cache.stats().hits, 30);

    // A hit: one exchange of one GET per key (entry, epoch, 2 tags), nothing else.
    let before = cluster_command_stats();
    let trips = setup.backend.round_trips();
    assert_eq!(user(3).await, "user 3");
    let trips = setup.backend.round_trips() - trips;
    let mut calls = delta(&before, &cluster_command_stats());
    calls.remove("info"); // the snapshots' own INFO calls
    assert_eq!(trips, 1);
    assert_eq!(calls, BTreeMap::from([("get".to_string(), 4)]));

    // A miss whose epoch and shared tag exist: the GETs, begin_load, and the
    // store with the lock release in one exchange. No lock key is left.
    let trips = setup.backend.round_trips();
    assert_eq!(user(1000).await, "user 1000");
    assert_eq!(setup.backend.round_trips() - trips, 3);
    for node in &setup.cluster.nodes {
        let locks: Vec<Vec<u8>> = redis::cmd("KEYS")
            .arg(format!("{}:lock:*", setup.cache.prefix()))
            .query(&mut raw_connection(node))
            .unwrap();
        assert!(locks.is_empty(), "{locks:?}");
    }

    // Sync and async calls share the store.
    let runs = RUNS.load(SeqCst);
    let sync = tokio::task::spawn_blocking(|| user_sync(5)).await.unwrap();
    assert_eq!(sync, "user 5");
    assert_eq!(RUNS.load(SeqCst), runs, "a hit for the sync twin");

    // invalidate, clean of one tag, clean of the shared tag, clean_all.
    let trips = setup.backend.round_trips();
    user_invalidate(1).await.unwrap();
    assert_eq!(setup.backend.round_trips() - trips, 1);
    assert_eq!(user(1).await, "user 1");
    assert_eq!(RUNS.load(SeqCst), runs + 1);
    let trips = setup.backend.round_trips();
    setup
        .cache
        .clean_async(&["user:2", "user:4"])
        .await
        .unwrap();
    assert_eq!(setup.backend.round_trips() - trips, 1);
    assert_eq!(user(2).await, "user 2");
    assert_eq!(RUNS.load(SeqCst), runs + 2);
    setup.cache.clean_async(&["users"]).await.unwrap();
    for id in 0..10 {
        user(id).await;
    }
    assert_eq!(
        RUNS.load(SeqCst),
        runs + 12,
        "clean of the shared tag drops every user"
    );
    let trips = setup.backend.round_trips();
    setup.cache.clean_all_async().await.unwrap();
    assert_eq!(setup.backend.round_trips() - trips, 1);
    assert_eq!(user(9).await, "user 9");
    assert_eq!(RUNS.load(SeqCst), runs + 13);
    assert_eq!(setup.cache.stats().errors, 0);
}
