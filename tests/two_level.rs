//! Two-level caching (`CacheBuilder::local`): a local tier in front of Redis,
//! a Redis Cluster and Memcached (with a Redis backplane, and with only
//! `local_ttl`), against real servers, sync and async. Two `Cache`s on one
//! prefix, each with its own backend and local tier:
//! - a local hit makes no round trip and decodes nothing;
//! - a cache's own `invalidate`, `refresh`, `clean` and `clean_all` apply to
//!   its local tier before they return, and so do another cache's of the
//!   same process and prefix (`near/registry.rs`), for every key shape: the
//!   hash of the arguments, `key = ...`, `version = N`, a generic function.
//!
//! Another process's changes, which reach a tier through the change
//! channel, are `two_level_processes.rs`'s.

#![cfg(all(feature = "redis", feature = "memcached", feature = "tokio"))]

mod support;

use std::any::Any;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use cachetool::{cached, Cache, MemcachedBackend, RedisBackend};
use cachetool_test_harness::cluster::Cluster;
use cachetool_test_harness::{Kind, Server};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use support::two_level::{runtime_for, warm, Config};

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

fn another_caches_changes_apply_at_once(config: Config, mode: &str) {
    let calls = Calls::new(config, mode);
    calls.get(Side::A, 1);
    for change in [
        Change::Invalidate,
        Change::Refresh,
        Change::Clean,
        Change::CleanAll,
    ] {
        calls.warm(Side::A, 1);
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
        // The next call, at once: computed again, or the refreshed value.
        let runs = calls.world().runs.load(SeqCst);
        let expected = refreshed.unwrap_or(runs + 1);
        assert_eq!(
            calls.get(Side::A, 1),
            expected,
            "{config:?}: after {change:?}"
        );
    }
}

thread_local! {
    /// Which cache of the world the key-shape functions below call: the
    /// side is no argument of theirs, so that both sides share one key.
    static SIDE: Cell<Side> = const { Cell::new(Side::A) };
}

fn side() -> Side {
    SIDE.with(Cell::get)
}

/// Runs `call` with the key-shape functions on `side`'s cache.
fn on<R>(side: Side, call: impl FnOnce() -> R) -> R {
    SIDE.with(|current| current.set(side));
    call()
}

/// The arguments hashed into the key (no `key = ...`).
#[cached(cache = world(w).cache(side()), name = "two_level.hashed", tags = [format!("user:{id}")])]
fn hashed(w: usize, id: u64) -> u64 {
    world(w).runs.fetch_add(1, SeqCst) + 1
}

#[cached(cache = world(w).cache(side()), name = "two_level.hashed", tags = [format!("user:{id}")])]
async fn hashed_async(w: usize, id: u64) -> u64 {
    world(w).runs.fetch_add(1, SeqCst) + 1
}

/// `version = N`: `@vN` in the key.
#[cached(cache = world(w).cache(side()), name = "two_level.versioned", version = 3)]
fn versioned(w: usize, id: u64) -> u64 {
    let _ = id;
    world(w).runs.fetch_add(1, SeqCst) + 1
}

#[cached(cache = world(w).cache(side()), name = "two_level.versioned", version = 3)]
async fn versioned_async(w: usize, id: u64) -> u64 {
    let _ = id;
    world(w).runs.fetch_add(1, SeqCst) + 1
}

/// A generic function: its identity hashes its type parameter, which its
/// key names only rewritten (a change of it drops every local copy).
#[cached(cache = world(w).cache(side()), name = "two_level.generic")]
fn generic<T: 'static>(w: usize, id: u64) -> u64 {
    let _ = id;
    world(w).runs.fetch_add(1, SeqCst) + 1
}

#[cached(cache = world(w).cache(side()), name = "two_level.generic")]
async fn generic_async<T: 'static>(w: usize, id: u64) -> u64 {
    let _ = id;
    world(w).runs.fetch_add(1, SeqCst) + 1
}

/// The key shapes: the default hash of the arguments, `version`, generics.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Hashed,
    Versioned,
    Generic,
}

impl Calls {
    fn get_shaped(&self, shape: Shape, side: Side, id: u64) -> u64 {
        let w = self.w;
        on(side, || match (&self.runtime, shape) {
            (None, Shape::Hashed) => hashed(w, id),
            (None, Shape::Versioned) => versioned(w, id),
            (None, Shape::Generic) => generic::<u8>(w, id),
            (Some(rt), Shape::Hashed) => rt.block_on(hashed_async(w, id)),
            (Some(rt), Shape::Versioned) => rt.block_on(versioned_async(w, id)),
            (Some(rt), Shape::Generic) => rt.block_on(generic_async::<u8>(w, id)),
        })
    }

    fn invalidate_shaped(&self, shape: Shape, side: Side, id: u64) {
        let w = self.w;
        on(side, || match (&self.runtime, shape) {
            (None, Shape::Hashed) => hashed_invalidate(w, id),
            (None, Shape::Versioned) => versioned_invalidate(w, id),
            (None, Shape::Generic) => generic_invalidate::<u8>(w, id),
            (Some(rt), Shape::Hashed) => rt.block_on(hashed_async_invalidate(w, id)),
            (Some(rt), Shape::Versioned) => rt.block_on(versioned_async_invalidate(w, id)),
            (Some(rt), Shape::Generic) => rt.block_on(generic_async_invalidate::<u8>(w, id)),
        })
        .expect("invalidate")
    }
}

fn every_key_shape_is_dropped_by_another_caches_invalidation(config: Config, mode: &str) {
    let calls = Calls::new(config, mode);
    for shape in [Shape::Hashed, Shape::Versioned, Shape::Generic] {
        calls.get_shaped(shape, Side::A, 1);
        warm(calls.world().cache(Side::A), || {
            calls.get_shaped(shape, Side::A, 1)
        });
        calls.invalidate_shaped(shape, Side::B, 1);
        let runs = calls.world().runs.load(SeqCst);
        let got = calls.get_shaped(shape, Side::A, 1);
        assert_eq!(
            got,
            runs + 1,
            "{config:?} {shape:?}: computed again at once"
        );
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
            fn another_caches_changes_apply_at_once() {
                super::super::another_caches_changes_apply_at_once($config, $mode);
            }

            #[test]
            fn every_key_shape_is_dropped_by_another_caches_invalidation() {
                super::super::every_key_shape_is_dropped_by_another_caches_invalidation(
                    $config, $mode,
                );
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
