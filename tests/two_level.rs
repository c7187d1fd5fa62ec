//! Two-level caching (`CacheBuilder::local`): a local tier in front of Redis,
//! a Redis Cluster and Memcached (with a Redis backplane, and with only
//! `local_ttl`), against real servers, sync and async. Two `Cache`s on one
//! prefix, each with its own backend and local tier, are what two processes
//! are (`two_level_processes.rs` puts the second in another process):
//! - a local hit makes no round trip and decodes nothing;
//! - a cache's own `invalidate`, `refresh`, `clean` and `clean_all` apply to
//!   its local tier before they return;
//! - the other cache's reach it within the delivery of one message (the
//!   delay is printed), or, without a channel, within `local_ttl`.

#![cfg(all(feature = "redis", feature = "memcached", feature = "tokio"))]

mod support;

use std::any::Any;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use cachetool::{cached, Cache, MemcachedBackend, RedisBackend};
use cachetool_test_harness::cluster::Cluster;
use cachetool_test_harness::{Kind, Server};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use support::two_level::{runtime_for, warm, Config, LOCAL_TTL, PATIENCE};

thread_local! {
    /// Every decode of a [`Counted`] on this thread (an async test's
    /// runtime runs on its test's thread; tests run side by side).
    static DECODED: Cell<u64> = const { Cell::new(0) };
}

fn decoded() -> u64 {
    DECODED.with(Cell::get)
}

/// A value that counts its decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counted(u64);

impl Serialize for Counted {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Counted {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DECODED.with(|decoded| decoded.set(decoded.get() + 1));
        u64::deserialize(deserializer).map(Counted)
    }
}

static REDIS: LazyLock<Server> = LazyLock::new(|| Server::start(Kind::Redis));
static CLUSTER: LazyLock<Cluster> = LazyLock::new(Cluster::start);
static MEMCACHED: LazyLock<Server> = LazyLock::new(|| Server::start(Kind::Memcached));

/// A cache of `prefix` with a local tier and a backend of its own, on this
/// binary's servers.
fn two_level_cache(config: Config, prefix: &str, by_url: bool) -> Cache {
    let url = match config {
        Config::Redis => REDIS.url(),
        Config::Cluster => CLUSTER.url(),
        Config::MemcachedBackplane | Config::MemcachedTtl => MEMCACHED.url(),
    };
    config.cache(&url, &REDIS.url(), prefix, by_url)
}

/// Two caches on one prefix, and the runs of the body.
struct World {
    a: Cache,
    b: Cache,
    runs: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
enum Side {
    A,
    B,
}

static WORLDS: Mutex<Vec<&'static World>> = Mutex::new(Vec::new());

fn world(w: usize) -> &'static World {
    WORLDS.lock().unwrap()[w]
}

fn new_world(config: Config) -> usize {
    let prefix = support::unique_prefix("two-level");
    let world = World {
        a: two_level_cache(config, &prefix, true),
        b: two_level_cache(config, &prefix, false),
        runs: AtomicU64::new(0),
    };
    let mut worlds = WORLDS.lock().unwrap();
    worlds.push(Box::leak(Box::new(world)));
    worlds.len() - 1
}

impl World {
    fn cache(&self, side: Side) -> &Cache {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }
}

#[cached(cache = world(w).cache(side), name = "two_level.value", key = format!("{w}-{id}"), tags = [format!("user:{id}")])]
fn value(side: Side, w: usize, id: u64) -> Counted {
    Counted(world(w).runs.fetch_add(1, SeqCst) + 1)
}

/// `value` as an `async fn`: the same name, so the same entries.
#[cached(cache = world(w).cache(side), name = "two_level.value", key = format!("{w}-{id}"), tags = [format!("user:{id}")])]
async fn value_async(side: Side, w: usize, id: u64) -> Counted {
    Counted(world(w).runs.fetch_add(1, SeqCst) + 1)
}

/// One test's calls, on threads or on tokio tasks.
struct Calls {
    w: usize,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Calls {
    fn new(config: Config, mode: &str) -> Calls {
        Calls {
            w: new_world(config),
            runtime: runtime_for(mode),
        }
    }

    fn world(&self) -> &'static World {
        world(self.w)
    }

    fn get(&self, side: Side, id: u64) -> u64 {
        match &self.runtime {
            None => value(side, self.w, id).0,
            Some(runtime) => runtime.block_on(value_async(side, self.w, id)).0,
        }
    }

    fn invalidate(&self, side: Side, id: u64) {
        match &self.runtime {
            None => value_invalidate(side, self.w, id),
            Some(runtime) => runtime.block_on(value_async_invalidate(side, self.w, id)),
        }
        .expect("invalidate")
    }

    fn refresh(&self, side: Side, id: u64) -> u64 {
        match &self.runtime {
            None => value_refresh(side, self.w, id).0,
            Some(runtime) => runtime.block_on(value_async_refresh(side, self.w, id)).0,
        }
    }

    fn clean(&self, side: Side, tag: &str) {
        let cache = self.world().cache(side);
        match &self.runtime {
            None => cache.clean(&[tag]),
            Some(runtime) => runtime.block_on(cache.clean_async(&[tag])),
        }
        .expect("clean")
    }

    fn clean_all(&self, side: Side) {
        let cache = self.world().cache(side);
        match &self.runtime {
            None => cache.clean_all(),
            Some(runtime) => runtime.block_on(cache.clean_all_async()),
        }
        .expect("clean_all")
    }

    /// Calls `id` on `side` until one call is a local hit: its value.
    fn warm(&self, side: Side, id: u64) -> u64 {
        warm(self.world().cache(side), || self.get(side, id))
    }
}

/// The round trips a cache's backend made so far.
fn round_trips(cache: &Cache) -> u64 {
    let backend: &dyn Any = cache.backend().as_ref();
    if let Some(redis) = backend.downcast_ref::<RedisBackend>() {
        return redis.round_trips();
    }
    let memcached = backend
        .downcast_ref::<MemcachedBackend>()
        .expect("a Redis or Memcached backend");
    memcached.round_trips()
}

fn a_local_hit_makes_no_round_trip_and_decodes_nothing(config: Config, mode: &str) {
    let calls = Calls::new(config, mode);
    let cache = &calls.world().a;
    assert_eq!(calls.get(Side::A, 1), 1, "computed");
    assert_eq!(calls.warm(Side::A, 1), 1);
    let mut local_hits = 0;
    for _ in 0..200 {
        let (trips, decodes, hits) = (round_trips(cache), decoded(), cache.stats());
        assert_eq!(calls.get(Side::A, 1), 1);
        let after = cache.stats();
        if after.local_hits > hits.local_hits {
            local_hits += 1;
            assert_eq!(
                round_trips(cache) - trips,
                0,
                "{config:?}: a local hit's round trips"
            );
            assert_eq!(decoded() - decodes, 0, "{config:?}: a local hit decodes");
        }
        assert_eq!(after.hits - hits.hits, 1, "every call is a hit");
    }
    // Without a change anywhere, the copy stays (a tier without a channel
    // may see it expire once in its `local_ttl`).
    assert!(
        local_hits >= 199,
        "{config:?}: {local_hits} local hits of 200"
    );
    assert_eq!(calls.world().runs.load(SeqCst), 1, "the body ran once");
}

fn own_changes_apply_before_they_return(config: Config, mode: &str) {
    let calls = Calls::new(config, mode);
    assert_eq!(calls.get(Side::A, 1), 1);
    assert_eq!(calls.warm(Side::A, 1), 1);
    calls.invalidate(Side::A, 1);
    assert_eq!(calls.get(Side::A, 1), 2, "{config:?}: after invalidate");
    assert_eq!(calls.warm(Side::A, 1), 2);
    assert_eq!(calls.refresh(Side::A, 1), 3);
    assert_eq!(calls.get(Side::A, 1), 3, "{config:?}: after refresh");
    assert_eq!(calls.warm(Side::A, 1), 3);
    calls.clean(Side::A, "user:1");
    assert_eq!(calls.get(Side::A, 1), 4, "{config:?}: after clean");
    assert_eq!(calls.warm(Side::A, 1), 4);
    calls.clean_all(Side::A);
    assert_eq!(calls.get(Side::A, 1), 5, "{config:?}: after clean_all");
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Invalidate,
    Refresh,
    Clean,
    CleanAll,
}

fn another_caches_changes_reach_this_one(config: Config, mode: &str) {
    let calls = Calls::new(config, mode);
    calls.get(Side::A, 1);
    for change in [
        Change::Invalidate,
        Change::Refresh,
        Change::Clean,
        Change::CleanAll,
    ] {
        let old = calls.warm(Side::A, 1);
        let refreshed = match change {
            Change::Invalidate => {
                calls.invalidate(Side::B, 1);
                None
            }
            Change::Refresh => Some(calls.refresh(Side::B, 1)),
            Change::Clean => {
                calls.clean(Side::B, "user:1");
                None
            }
            Change::CleanAll => {
                calls.clean_all(Side::B);
                None
            }
        };
        let changed = Instant::now();
        let (new, delay) = first_new_value(&calls, config, old, changed);
        eprintln!("{config:?} {mode}: {change:?} in the other cache seen after {delay:?}");
        match refreshed {
            Some(refreshed) => assert_eq!(new, refreshed, "{config:?}: the refreshed value"),
            None => assert!(new > old, "{config:?}: computed again after {change:?}"),
        }
    }
}

/// Calls `A`'s `value(1)` until it is no longer `old`, and gives the new
/// value and how long after `changed` it came. Without a channel, a call
/// that starts `LOCAL_TTL` after the change must not get `old`.
fn first_new_value(calls: &Calls, config: Config, old: u64, changed: Instant) -> (u64, Duration) {
    let deadline = changed + PATIENCE;
    loop {
        let started = Instant::now();
        let value = calls.get(Side::A, 1);
        if value != old {
            return (value, changed.elapsed());
        }
        assert!(
            config.has_channel() || started < changed + LOCAL_TTL,
            "{config:?}: the old value served {:?} after the change, past local_ttl",
            started - changed
        );
        assert!(
            Instant::now() < deadline,
            "{config:?}: the change was not seen within {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

macro_rules! two_level_tests {
    ($($config_module:ident: $config:expr;)*) => {$(
        mod $config_module {
            use super::*;
            two_level_tests!(@mode $config, sync, "sync");
            two_level_tests!(@mode $config, r#async, "async");
        }
    )*};
    (@mode $config:expr, $mode_module:ident, $mode:literal) => {
        mod $mode_module {
            use super::*;

            #[test]
            fn a_local_hit_makes_no_round_trip_and_decodes_nothing() {
                super::super::a_local_hit_makes_no_round_trip_and_decodes_nothing($config, $mode);
            }

            #[test]
            fn own_changes_apply_before_they_return() {
                super::super::own_changes_apply_before_they_return($config, $mode);
            }

            #[test]
            fn another_caches_changes_reach_this_one() {
                super::super::another_caches_changes_reach_this_one($config, $mode);
            }
        }
    };
}

two_level_tests! {
    redis: Config::Redis;
    redis_cluster: Config::Cluster;
    memcached_backplane: Config::MemcachedBackplane;
    memcached_local_ttl: Config::MemcachedTtl;
}

/// What the builder refuses, and why.
#[test]
fn local_tier_settings_are_checked() {
    let refused = |built: cachetool::Result<Cache>, says: &str| {
        let error = built.expect_err(says).to_string();
        assert!(error.contains(says), "{error:?} should say {says:?}");
    };
    refused(
        Cache::builder()
            .memcached("memcache://127.0.0.1:1")
            .unwrap()
            .local(10)
            .build(),
        "needs local_ttl",
    );
    refused(
        Cache::builder()
            .redis("redis://127.0.0.1:1/")
            .unwrap()
            .local_ttl(Duration::from_secs(1))
            .build(),
        "set local too",
    );
    refused(Cache::builder().local(10).build(), "local already");
    refused(
        Cache::builder()
            .redis("redis://127.0.0.1:1/")
            .unwrap()
            .backplane("redis://127.0.0.1:2/")
            .unwrap()
            .build(),
        "Redis announces its own",
    );
    refused(
        Cache::from_url("redis://127.0.0.1:1/?local=0"),
        "at least 1",
    );
    refused(
        Cache::from_url("memcache://127.0.0.1:1?local=10&local_ttl=soon"),
        "expected seconds",
    );
    let cache = Cache::from_url("redis://127.0.0.1:1/?local=10").expect("a two-level cache");
    assert_eq!(
        cache.__local_tier_listening(),
        Some(false),
        "no server: not listening"
    );
    assert_eq!(Cache::memory().__local_tier_listening(), None);
}
