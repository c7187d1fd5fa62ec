//! A list, hash, set or sorted set under a tag or epoch key (another program
//! wrote it) is garbage like any other: the next miss replaces it with a new
//! version (as a clean would), counts it in `RedisBackend::replaced_versions()`
//! and logs it with `tracing::warn!`; the call after that is a hit again.
//! Before, `SET NX` left such a key alone and `MGET` read it as nil, so every
//! call under that tag missed, forever, with no error and no log. Sync and async.

#![cfg(feature = "redis")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;

use cachetool::cached;
use support::redis::Setup;
use support::warnings;

static SYNC: LazyLock<Setup> = LazyLock::new(|| Setup::new("wrong-type-sync", |builder| builder));
static SYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &SYNC.cache, name = "tagged", key = format!("k{n}"), tags = ["x"])]
fn tagged(n: u64) -> u64 {
    SYNC_RUNS.fetch_add(1, SeqCst);
    n + 100
}

/// Replaces `key` (checked to hold a version: a string) with a value of
/// `kind`, through the plain redis client.
fn put_wrong_type(setup: &Setup, key: &str, kind: &str) {
    let mut conn = setup.raw();
    let found: String = redis::cmd("TYPE").arg(key).query(&mut conn).unwrap();
    assert_eq!(
        found, "string",
        "{key} holds a version before it is replaced"
    );
    let _: () = redis::cmd("DEL").arg(key).query(&mut conn).unwrap();
    let mut cmd = match kind {
        "list" => redis::cmd("RPUSH"),
        "hash" => {
            let mut cmd = redis::cmd("HSET");
            cmd.arg(key).arg("field");
            cmd.arg("value");
            let _: () = cmd.query(&mut conn).unwrap();
            return;
        }
        "set" => redis::cmd("SADD"),
        "zset" => {
            let mut cmd = redis::cmd("ZADD");
            cmd.arg(key).arg(1).arg("member");
            let _: () = cmd.query(&mut conn).unwrap();
            return;
        }
        other => panic!("no such type {other}"),
    };
    let _: () = cmd.arg(key).arg("x").query(&mut conn).unwrap();
    let found: String = redis::cmd("TYPE").arg(key).query(&mut conn).unwrap();
    assert_eq!(found, kind);
}

fn type_of(setup: &Setup, key: &str) -> String {
    redis::cmd("TYPE").arg(key).query(&mut setup.raw()).unwrap()
}

/// The tag key and the epoch key of `setup`'s cache: `{prefix}:tag:x`, `{prefix}:epoch`.
fn version_keys(setup: &Setup) -> [String; 2] {
    let prefix = setup.cache.prefix();
    [format!("{prefix}:tag:x"), format!("{prefix}:epoch")]
}

#[test]
fn sync_a_wrong_type_under_a_version_key_is_replaced_counted_and_logged() {
    let setup = &*SYNC;
    assert_eq!(tagged(1), 101);
    assert_eq!(tagged(1), 101);
    assert_eq!(SYNC_RUNS.load(SeqCst), 1);
    let [tag_key, epoch_key] = version_keys(setup);
    let cases = [
        (&tag_key, "list"),
        (&epoch_key, "hash"),
        (&tag_key, "set"),
        (&epoch_key, "zset"),
    ];
    for (round, (key, kind)) in cases.into_iter().enumerate() {
        put_wrong_type(setup, key, kind);
        let replaced = setup.backend.replaced_versions();
        let (value, warnings) = warnings::capture(|| tagged(1));
        assert_eq!(value, 101);
        assert_eq!(SYNC_RUNS.load(SeqCst), round + 2, "a miss: computed once");
        assert_eq!(setup.backend.replaced_versions(), replaced + 1, "{kind}");
        assert_eq!(type_of(setup, key), "string", "the {kind} was replaced");
        assert!(
            warnings
                .iter()
                .any(|warning| warning.contains(kind) && warning.contains(key.as_str())),
            "a warning names the key and what it held: {warnings:?}"
        );
        assert_eq!(tagged(1), 101);
        assert_eq!(SYNC_RUNS.load(SeqCst), round + 2, "then a hit");
    }
    assert_eq!(setup.cache.stats().errors, 0);
}

#[cfg(feature = "tokio")]
static ASYNC: LazyLock<Setup> = LazyLock::new(|| Setup::new("wrong-type-async", |builder| builder));
#[cfg(feature = "tokio")]
static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cfg(feature = "tokio")]
#[cached(cache = &ASYNC.cache, name = "tagged", key = format!("k{n}"), tags = ["x"])]
async fn tagged_async(n: u64) -> u64 {
    ASYNC_RUNS.fetch_add(1, SeqCst);
    n + 200
}

#[cfg(feature = "tokio")]
#[test]
fn async_a_wrong_type_under_a_version_key_is_replaced_counted_and_logged() {
    // A current-thread runtime: the calls, and so their warnings, stay on this thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let call = |n| {
        runtime.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(60), tagged_async(n))
                .await
                .expect("bounded")
        })
    };
    let setup = &*ASYNC;
    assert_eq!(call(1), 201);
    assert_eq!(call(1), 201);
    assert_eq!(ASYNC_RUNS.load(SeqCst), 1);
    let [tag_key, epoch_key] = version_keys(setup);
    for (round, (key, kind)) in [(&tag_key, "list"), (&epoch_key, "set")]
        .into_iter()
        .enumerate()
    {
        put_wrong_type(setup, key, kind);
        let replaced = setup.backend.replaced_versions();
        let (value, warnings) = warnings::capture(|| call(1));
        assert_eq!(value, 201);
        assert_eq!(ASYNC_RUNS.load(SeqCst), round + 2, "a miss: computed once");
        assert_eq!(setup.backend.replaced_versions(), replaced + 1, "{kind}");
        assert_eq!(type_of(setup, key), "string", "the {kind} was replaced");
        assert!(
            warnings.iter().any(|warning| warning.contains(kind)),
            "{warnings:?}"
        );
        assert_eq!(call(1), 201);
        assert_eq!(ASYNC_RUNS.load(SeqCst), round + 2, "then a hit");
    }
    assert_eq!(setup.cache.stats().errors, 0);
}
