//! Two-level caching across processes: a child process (this binary again,
//! with `CHILD_ENV` set) holds a cache with a local tier on the same server
//! and prefix as this process's, and makes the changes this process's local
//! tier must hear of through the change channel: an invalidation of every
//! key shape (`key = ...`, the hash of the arguments, `version = N`, a
//! generic function), a refresh, a `clean` and a `clean_all`. Each is seen
//! here within a bounded wait (the delay is printed), on Redis, a Redis
//! Cluster and Memcached with a Redis backplane; on Memcached without one,
//! a call that starts `local_ttl` after the change never gets the old
//! value. Calls on threads and on tokio tasks.
//!
//! And the channel lost, two ways, while a value sits in this process's
//! local tier; once the tier has noticed, the value is never served:
//! - this process's Redis user is switched off and its connections killed
//!   (the data stays); the child refreshes the key meanwhile (a message this
//!   process cannot hear); the user is switched on again, and once the tier
//!   listens again, every call gets the refreshed value;
//! - Redis is stopped and restarted (empty), and the child invalidates the
//!   key; once the tier listens again, the value it held is never served.
//!
//! A custom harness (libtest-mimic): the child's entry point is not counted
//! as a test.

mod support;

use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cachetool::{cached, Cache};
use cachetool_test_harness::child::Conversation;
use cachetool_test_harness::cluster::Cluster;
use cachetool_test_harness::{Kind, Server};
use libtest_mimic::{Failed, Trial};
use support::two_level::{runtime_for, warm, Config, LOCAL_TTL, PATIENCE};

const CHILD_ENV: &str = "CACHETOOL_TWO_LEVEL_CHILD";
/// What the child's computations return: apart from this process's.
const CHILD_VALUES: u64 = 1_000_000;

fn main() {
    cachetool_test_harness::child::main_or_child(CHILD_ENV, child::run, trials).exit();
}

fn trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    for (module, config) in [
        ("redis", Config::Redis),
        ("redis_cluster", Config::Cluster),
        ("memcached_backplane", Config::MemcachedBackplane),
        ("memcached_local_ttl", Config::MemcachedTtl),
    ] {
        for mode in ["sync", "async"] {
            let name = format!("{module}::{mode}::another_processs_changes_reach_this_one");
            trials.push(Trial::test(name, move || {
                another_processs_changes_reach_this_one(config, mode)
            }));
        }
    }
    for mode in ["sync", "async"] {
        let name = format!("redis::{mode}::a_lost_channel_empties_the_tier_until_it_is_back");
        trials.push(Trial::test(name, move || {
            a_lost_channel_empties_the_tier(mode)
        }));
        let name = format!("redis::{mode}::a_restarted_server_never_brings_back_a_held_value");
        trials.push(Trial::test(name, move || {
            a_restarted_server_never_brings_back_a_held_value(mode)
        }));
    }
    trials
}

/// One trial's cache and the runs of its body.
struct World {
    cache: Cache,
    runs: AtomicU64,
}

static WORLDS: Mutex<Vec<&'static World>> = Mutex::new(Vec::new());

thread_local! {
    /// The world this thread's calls use: no argument of the functions, so
    /// that both processes' keys are alike.
    static WORLD: Cell<usize> = const { Cell::new(0) };
}

fn here() -> &'static World {
    WORLDS.lock().unwrap()[WORLD.with(Cell::get)]
}

fn next_run() -> u64 {
    here().runs.fetch_add(1, SeqCst) + 1
}

fn new_world(cache: Cache, first_run: u64) -> usize {
    let mut worlds = WORLDS.lock().unwrap();
    worlds.push(Box::leak(Box::new(World {
        cache,
        runs: AtomicU64::new(first_run),
    })));
    worlds.len() - 1
}

#[cached(cache = &here().cache, name = "tlp.keyed", key = id, tags = [format!("user:{id}")])]
fn keyed(id: u64) -> u64 {
    next_run()
}

#[cached(cache = &here().cache, name = "tlp.keyed", key = id, tags = [format!("user:{id}")])]
async fn keyed_async(id: u64) -> u64 {
    next_run()
}

#[cached(cache = &here().cache, name = "tlp.hashed")]
fn hashed(id: u64) -> u64 {
    let _ = id;
    next_run()
}

#[cached(cache = &here().cache, name = "tlp.hashed")]
async fn hashed_async(id: u64) -> u64 {
    let _ = id;
    next_run()
}

#[cached(cache = &here().cache, name = "tlp.versioned", version = 3)]
fn versioned(id: u64) -> u64 {
    let _ = id;
    next_run()
}

#[cached(cache = &here().cache, name = "tlp.versioned", version = 3)]
async fn versioned_async(id: u64) -> u64 {
    let _ = id;
    next_run()
}

#[cached(cache = &here().cache, name = "tlp.generic")]
fn generic<T: 'static>(id: u64) -> u64 {
    let _ = id;
    next_run()
}

#[cached(cache = &here().cache, name = "tlp.generic")]
async fn generic_async<T: 'static>(id: u64) -> u64 {
    let _ = id;
    next_run()
}

/// The key shapes, by the names the child is told.
const SHAPES: [&str; 4] = ["keyed", "hashed", "versioned", "generic"];

/// This process's calls of one trial, on threads or on tokio tasks.
struct Calls {
    w: usize,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Calls {
    fn new(cache: Cache, mode: &str) -> Calls {
        Calls {
            w: new_world(cache, 0),
            runtime: runtime_for(mode),
        }
    }

    fn cache(&self) -> &'static Cache {
        &WORLDS.lock().unwrap()[self.w].cache
    }

    /// `shape`'s function of `id`, on this trial's cache.
    fn get(&self, shape: &str, id: u64) -> u64 {
        WORLD.with(|world| world.set(self.w));
        match (&self.runtime, shape) {
            (None, "keyed") => keyed(id),
            (None, "hashed") => hashed(id),
            (None, "versioned") => versioned(id),
            (None, _) => generic::<u8>(id),
            (Some(rt), "keyed") => rt.block_on(keyed_async(id)),
            (Some(rt), "hashed") => rt.block_on(hashed_async(id)),
            (Some(rt), "versioned") => rt.block_on(versioned_async(id)),
            (Some(rt), _) => rt.block_on(generic_async::<u8>(id)),
        }
    }

    fn warm(&self, shape: &str) -> u64 {
        warm(self.cache(), || self.get(shape, 1))
    }
}

/// Starts the child on `config`'s `url` (and `backplane`) and `prefix`,
/// once its cache is built; each of its answers awaited within `PATIENCE`.
fn start_child(config: Config, url: &str, backplane: &str, prefix: &str) -> Conversation {
    let spec = format!("{config:?}|{url}|{backplane}|{prefix}");
    Conversation::start(CHILD_ENV, &spec, PATIENCE)
}

/// The servers of one configuration: the entries' URL and the backplane's.
struct Servers {
    _servers: Vec<Server>,
    _cluster: Option<Cluster>,
    url: String,
    backplane: String,
}

fn servers(config: Config) -> Servers {
    let redis = Server::start(Kind::Redis);
    let backplane = redis.url();
    let (url, cluster, mut servers) = match config {
        Config::Redis => (redis.url(), None, vec![]),
        Config::Cluster => {
            let cluster = Cluster::start();
            (cluster.url(), Some(cluster), vec![])
        }
        Config::MemcachedBackplane | Config::MemcachedTtl => {
            let memcached = Server::start(Kind::Memcached);
            (memcached.url(), None, vec![memcached])
        }
    };
    servers.push(redis);
    Servers {
        _servers: servers,
        _cluster: cluster,
        url,
        backplane,
    }
}

fn another_processs_changes_reach_this_one(config: Config, mode: &str) -> Result<(), Failed> {
    let servers = servers(config);
    let prefix = support::unique_prefix("two-level-processes");
    let cache = config.cache(&servers.url, &servers.backplane, &prefix, true);
    let calls = Calls::new(cache, mode);
    let mut child = start_child(config, &servers.url, &servers.backplane, &prefix);
    let mut orders: Vec<(String, &str)> = SHAPES
        .iter()
        .map(|&shape| (format!("invalidate {shape}"), shape))
        .collect();
    orders.extend([
        ("refresh keyed".to_owned(), "keyed"),
        ("clean user:1".to_owned(), "keyed"),
        ("clean_all".to_owned(), "keyed"),
    ]);
    for (command, shape) in orders {
        calls.get(shape, 1);
        let old = calls.warm(shape);
        let answer = child.order(&command);
        let changed = Instant::now();
        let new = first_value_other_than(config, old, changed, || calls.get(shape, 1))?;
        eprintln!(
            "{config:?} {mode}: {command} in another process seen after {:?}",
            changed.elapsed()
        );
        match answer.strip_prefix("refreshed ") {
            Some(refreshed) if refreshed != new.to_string() => {
                return Err(format!("{command}: got {new}, the child stored {refreshed}").into());
            }
            Some(_) => {}
            None if answer != "done" => return Err(format!("{command}: {answer}").into()),
            // Computed again here.
            None => {}
        }
    }
    Ok(())
}

/// Calls `get` until it is not `old`, for at most `PATIENCE` after
/// `changed`. Without a channel, a call that starts `LOCAL_TTL` after the
/// change must not get `old` (the entry was filled before the change).
fn first_value_other_than(
    config: Config,
    old: u64,
    changed: Instant,
    mut get: impl FnMut() -> u64,
) -> Result<u64, Failed> {
    loop {
        let started = Instant::now();
        let value = get();
        if value != old {
            return Ok(value);
        }
        if !config.has_channel() && started >= changed + LOCAL_TTL {
            let late = started - changed;
            return Err(format!("the old value {old} served {late:?} after the change").into());
        }
        if changed.elapsed() > PATIENCE {
            return Err(format!("the old value {old} still served after {PATIENCE:?}").into());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn a_lost_channel_empties_the_tier(mode: &str) -> Result<(), Failed> {
    let redis = Server::start(Kind::Redis);
    // This process's cache connects as a user of its own, which the test
    // switches off to cut it from the server while the data stays.
    let acl = |command: &str| {
        let answer = redis.raw(format!("{command}\r\n").as_bytes());
        assert!(
            answer.starts_with(b"+OK") || answer.starts_with(b":"),
            "{command}: {answer:?}"
        );
    };
    acl("ACL SETUSER near on >secret ~* &* +@all");
    let port = redis.port();
    let prefix = support::unique_prefix("two-level-lost");
    let url = format!("redis://near:secret@127.0.0.1:{port}/");
    let (calls, held) = holding_a_value(&url, &prefix, mode)?;
    acl("ACL SETUSER near off");
    acl("CLIENT KILL USER near");
    never_served_while_lost(&calls, held)?;
    // A change this process can't hear: the entry it holds is replaced.
    let mut child = start_child(Config::Redis, &redis.url(), &redis.url(), &prefix);
    let refreshed = child.order("refresh keyed");
    let refreshed: u64 = match refreshed.strip_prefix("refreshed ") {
        Some(value) => value.parse()?,
        None => return Err(format!("the child's refresh: {refreshed}").into()),
    };
    acl("ACL SETUSER near on");
    // Until its data connection is back too (a call that can't read
    // computes its own value), then with the tier in use: never the held value.
    never_served_once_back(&calls, held, || {
        never_held(&calls, held).map(|value| value == refreshed)
    })
}

fn a_restarted_server_never_brings_back_a_held_value(mode: &str) -> Result<(), Failed> {
    let mut redis = Server::start(Kind::Redis);
    let url = redis.url();
    let prefix = support::unique_prefix("two-level-restart");
    let (calls, held) = holding_a_value(&url, &prefix, mode)?;
    redis.stop();
    never_served_while_lost(&calls, held)?;
    redis.restart();
    let mut child = start_child(Config::Redis, &url, &url, &prefix);
    if child.order("invalidate keyed") != "done" {
        return Err("the child's invalidation failed".into());
    }
    // Until a value stored after the restart is read back locally.
    let local_hits = calls.cache().stats().local_hits;
    never_served_once_back(&calls, held, || {
        never_held(&calls, held)?;
        Ok(calls.cache().stats().local_hits > local_hits)
    })
}

/// A two-level cache of `prefix` on the Redis at `url` (with short
/// timeouts: its server goes away), holding `keyed(1)` in its local tier;
/// and the value held.
fn holding_a_value(url: &str, prefix: &str, mode: &str) -> Result<(Calls, u64), Failed> {
    let cache = Cache::builder()
        .url(&format!("{url}?local=1000"))?
        .prefix(prefix)
        .connect_timeout(Duration::from_millis(200))
        .io_timeout(Duration::from_millis(500))
        .build()?;
    let calls = Calls::new(cache, mode);
    let held = calls.get("keyed", 1);
    if calls.warm("keyed") != held {
        return Err("the warm value is not the stored one".into());
    }
    Ok((calls, held))
}

/// Once the tier noticed its channel is gone: 20 calls, none gets `held`
/// (each computes: the server can't be read either).
fn never_served_while_lost(calls: &Calls, held: u64) -> Result<(), Failed> {
    until(
        || calls.cache().__local_tier_listening() == Some(false),
        "the tier to notice",
    )?;
    for _ in 0..20 {
        never_held(calls, held)?;
    }
    Ok(())
}

/// Once the tier listens again: calls until `settled` says so (bounded by
/// `PATIENCE`), then 200 more, none of which gets `held`.
fn never_served_once_back(
    calls: &Calls,
    held: u64,
    mut settled: impl FnMut() -> Result<bool, Failed>,
) -> Result<(), Failed> {
    until(
        || calls.cache().__local_tier_listening() == Some(true),
        "the tier to listen again",
    )?;
    let deadline = Instant::now() + PATIENCE;
    while !settled()? {
        if Instant::now() > deadline {
            return Err(
                format!("not settled within {PATIENCE:?} after the channel came back").into(),
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let local_hits = calls.cache().stats().local_hits;
    for _ in 0..200 {
        never_held(calls, held)?;
    }
    if calls.cache().stats().local_hits == local_hits {
        return Err("the tier was not used again".into());
    }
    Ok(())
}

/// One call of `keyed(1)`: its value, or an error if it is `held`.
fn never_held(calls: &Calls, held: u64) -> Result<u64, Failed> {
    match calls.get("keyed", 1) {
        value if value == held => Err(format!("the held value {held} served").into()),
        value => Ok(value),
    }
}

/// Waits (polling, bounded) until `condition` holds.
fn until(condition: impl Fn() -> bool, what: &str) -> Result<(), Failed> {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        if Instant::now() > deadline {
            return Err(format!("waited {PATIENCE:?} for {what}").into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// The other process: a cache on the same prefix, changing what it is told to.
mod child {
    use super::*;

    /// `config|url|backplane|prefix`; then commands on stdin, one per line.
    pub(super) fn run(spec: &str) {
        let [config, url, backplane, prefix] = spec.split('|').collect::<Vec<_>>()[..] else {
            panic!("a bad child spec: {spec}");
        };
        let config = match config {
            "Redis" => Config::Redis,
            "Cluster" => Config::Cluster,
            "MemcachedBackplane" => Config::MemcachedBackplane,
            _ => Config::MemcachedTtl,
        };
        let cache = config.cache(url, backplane, prefix, false);
        WORLD.with(|world| world.set(new_world(cache, CHILD_VALUES)));
        println!("ready");
        for line in std::io::stdin().lines() {
            let line = line.unwrap();
            let answer = match line.split_once(' ').unwrap_or((&line, "")) {
                ("invalidate", shape) => done(match shape {
                    "keyed" => keyed_invalidate(1),
                    "hashed" => hashed_invalidate(1),
                    "versioned" => versioned_invalidate(1),
                    _ => generic_invalidate::<u8>(1),
                }),
                ("refresh", _) => format!("refreshed {}", keyed_refresh(1)),
                ("clean", tag) => done(here().cache.clean(&[tag])),
                ("clean_all", _) => done(here().cache.clean_all()),
                ("quit", _) => return,
                (other, _) => panic!("an unknown command {other:?}"),
            };
            println!("{answer}");
            std::io::stdout().flush().unwrap();
        }
    }

    fn done(outcome: cachetool::Result<()>) -> String {
        outcome.map_or_else(|error| error.to_string(), |()| "done".to_owned())
    }
}
