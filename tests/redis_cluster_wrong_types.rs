//! On a Redis Cluster, a list under a tag, epoch or entry key (another
//! program wrote it) is garbage like any other, as on one server
//! (`redis_wrong_types.rs`): there, reads are `GET`s, and a `GET` of a list
//! fails the whole pipeline with `WRONGTYPE`, so every call under such a key
//! failed. Now the reads fall back to a script that reads a list as nil, the
//! version key is replaced and counted, the entry overwritten by the store,
//! and the call after that is a hit. Sync and async, on a cluster of its own
//! (the cluster tests that count commands must not see these).

#![cfg(feature = "redis")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock};

use cachetool::{cached, Cache, RedisBackend};
use cachetool_test_harness::cluster::Cluster;

/// The cluster, and a backend and cache each for the sync and the async test
/// (their counters apart).
struct Setup {
    cluster: Cluster,
    backend: Arc<RedisBackend>,
    sync: Cache,
    #[cfg(feature = "tokio")]
    aio: Cache,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let cluster = Cluster::start();
    let backend = || Arc::new(RedisBackend::open(&cluster.url(), &Default::default()).unwrap());
    let cache = |backend: Arc<RedisBackend>, name: &str| {
        Cache::builder()
            .backend(backend)
            .prefix(support::unique_prefix(name))
            .build()
            .unwrap()
    };
    let sync_backend = backend();
    Setup {
        sync: cache(sync_backend.clone(), "cluster-wrong-sync"),
        #[cfg(feature = "tokio")]
        aio: cache(backend(), "cluster-wrong-async"),
        backend: sync_backend,
        cluster,
    }
});

/// A connection to the whole cluster, through the plain client.
fn raw() -> redis::cluster::ClusterConnection {
    let nodes: Vec<String> = SETUP
        .cluster
        .nodes
        .iter()
        .map(|node| format!("redis://{}/", node.address()))
        .collect();
    redis::cluster::ClusterClient::new(nodes)
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Replaces the string under `key` with a list.
fn put_list(key: &str) {
    let mut conn = raw();
    let found: String = redis::cmd("TYPE").arg(key).query(&mut conn).unwrap();
    assert_eq!(found, "string", "{key} holds a string before");
    let _: () = redis::cmd("DEL").arg(key).query(&mut conn).unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg(key)
        .arg("x")
        .query(&mut conn)
        .unwrap();
}

fn type_of(key: &str) -> String {
    redis::cmd("TYPE").arg(key).query(&mut raw()).unwrap()
}

static SYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &SETUP.sync, name = "tagged", key = format!("k{n}"), tags = ["x"])]
fn tagged(n: u64) -> u64 {
    SYNC_RUNS.fetch_add(1, SeqCst);
    n + 1
}

#[test]
fn sync_lists_under_our_keys_are_replaced_on_a_cluster() {
    let setup = &*SETUP;
    let prefix = setup.sync.prefix();
    assert_eq!(tagged(1), 2);
    assert_eq!(tagged(1), 2);
    assert_eq!(SYNC_RUNS.load(SeqCst), 1);
    let keys = [
        format!("{prefix}:tag:x"),
        format!("{prefix}:epoch"),
        format!("{prefix}:entry:tagged:k1"),
    ];
    for (round, key) in keys.iter().enumerate() {
        put_list(key);
        let replaced = setup.backend.replaced_versions();
        assert_eq!(tagged(1), 2);
        assert_eq!(SYNC_RUNS.load(SeqCst), round + 2, "a miss: computed once");
        assert_eq!(type_of(key), "string", "{key}: the list was replaced");
        let version_key = !key.contains(":entry:");
        assert_eq!(
            setup.backend.replaced_versions(),
            replaced + u64::from(version_key)
        );
        assert_eq!(tagged(1), 2);
        assert_eq!(SYNC_RUNS.load(SeqCst), round + 2, "then a hit");
    }
    assert_eq!(setup.sync.stats().errors, 0);
}

#[cfg(feature = "tokio")]
static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cfg(feature = "tokio")]
#[cached(cache = &SETUP.aio, name = "tagged", key = format!("k{n}"), tags = ["x"])]
async fn tagged_async(n: u64) -> u64 {
    ASYNC_RUNS.fetch_add(1, SeqCst);
    n + 1
}

#[cfg(feature = "tokio")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_lists_under_our_keys_are_replaced_on_a_cluster() {
    let setup = &*SETUP;
    let prefix = setup.aio.prefix();
    assert_eq!(tagged_async(1).await, 2);
    assert_eq!(tagged_async(1).await, 2);
    assert_eq!(ASYNC_RUNS.load(SeqCst), 1);
    let keys = [
        format!("{prefix}:tag:x"),
        format!("{prefix}:epoch"),
        format!("{prefix}:entry:tagged:k1"),
    ];
    for (round, key) in keys.iter().enumerate() {
        let key = key.clone();
        tokio::task::spawn_blocking({
            let key = key.clone();
            move || put_list(&key)
        })
        .await
        .unwrap();
        assert_eq!(tagged_async(1).await, 2);
        assert_eq!(ASYNC_RUNS.load(SeqCst), round + 2, "a miss: computed once");
        let found = tokio::task::spawn_blocking(move || type_of(&key))
            .await
            .unwrap();
        assert_eq!(found, "string", "the list was replaced");
        assert_eq!(tagged_async(1).await, 2);
        assert_eq!(ASYNC_RUNS.load(SeqCst), round + 2, "then a hit");
    }
    assert_eq!(setup.aio.stats().errors, 0);
}
