//! Two-level caching across processes: a child process (this binary again,
//! with `CHILD_ENV` set) holds a cache with a local tier on the same server
//! and prefix as this process's, and makes the changes this process's
//! local tier must hear of: `invalidate`, `refresh`, `clean` and
//! `clean_all`. Each is seen here within a bounded wait (the delay is
//! printed), on Redis, a Redis Cluster and Memcached with a Redis backplane,
//! with calls on threads and on tokio tasks.
//!
//! And the channel lost: Redis is stopped while a value sits in this
//! process's local tier. Once the tier has noticed, the value is never
//! served (calls compute, as with any failing backend); Redis restarts
//! empty, the child invalidates the key, and once the tier listens again
//! the value is still never served.
//!
//! A custom harness (libtest-mimic): the child's entry point is not counted
//! as a test.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cachetool::{cached, Cache};
use cachetool_test_harness::cluster::Cluster;
use cachetool_test_harness::{Kind, Server};
use libtest_mimic::{Failed, Trial};
use support::two_level::{runtime_for, warm, Config, PATIENCE};

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
    }
    trials
}

/// One trial's cache and the runs of its body, found by the argument `w`.
struct World {
    cache: Cache,
    runs: AtomicU64,
}

static WORLDS: Mutex<Vec<&'static World>> = Mutex::new(Vec::new());

fn world(w: usize) -> &'static World {
    WORLDS.lock().unwrap()[w]
}

fn new_world(cache: Cache) -> usize {
    let mut worlds = WORLDS.lock().unwrap();
    worlds.push(Box::leak(Box::new(World {
        cache,
        runs: AtomicU64::new(0),
    })));
    worlds.len() - 1
}

/// The same name and key in both processes (the child's `w` is its own).
#[cached(cache = &world(w).cache, name = "two_level.processes", key = id, tags = [format!("user:{id}")])]
fn value(w: usize, id: u64) -> u64 {
    world(w).runs.fetch_add(1, SeqCst) + 1
}

#[cached(cache = &world(w).cache, name = "two_level.processes", key = id, tags = [format!("user:{id}")])]
async fn value_async(w: usize, id: u64) -> u64 {
    world(w).runs.fetch_add(1, SeqCst) + 1
}

/// This process's calls, on threads or on tokio tasks.
struct Calls {
    w: usize,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Calls {
    fn new(cache: Cache, mode: &str) -> Calls {
        Calls {
            w: new_world(cache),
            runtime: runtime_for(mode),
        }
    }

    fn cache(&self) -> &'static Cache {
        &world(self.w).cache
    }

    fn get(&self, id: u64) -> u64 {
        match &self.runtime {
            None => value(self.w, id),
            Some(runtime) => runtime.block_on(value_async(self.w, id)),
        }
    }

    fn warm(&self, id: u64) -> u64 {
        warm(self.cache(), || self.get(id))
    }
}

/// The child, driven line by line: a command, then its answer.
struct ChildProcess {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl ChildProcess {
    /// Starts the child on `config`'s `url` (and `backplane`) and `prefix`,
    /// and waits until its cache is built.
    fn start(config: Config, url: &str, backplane: &str, prefix: &str) -> ChildProcess {
        let spec = format!("{config:?}|{url}|{backplane}|{prefix}");
        let mut child = cachetool_test_harness::child::this_binary(CHILD_ENV, &spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the test binary as a child");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        let mut process = ChildProcess {
            child,
            input,
            output,
        };
        assert_eq!(process.answer(), "ready");
        process
    }

    /// Sends `command` and gives the child's answer once it is done.
    fn order(&mut self, command: &str) -> String {
        writeln!(self.input, "{command}").unwrap();
        self.input.flush().unwrap();
        self.answer()
    }

    /// The child's next line. (A child that hangs is killed by `Drop` once
    /// the trial's own waits fail: each of its commands is one call.)
    fn answer(&mut self) -> String {
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the child ended early");
        line.trim().to_owned()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = writeln!(self.input, "quit");
        let deadline = Instant::now() + PATIENCE;
        let _ = cachetool_test_harness::child::wait_until(&mut self.child, deadline);
    }
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
    let calls = Calls::new(
        config.cache(&servers.url, &servers.backplane, &prefix, true),
        mode,
    );
    let mut child = ChildProcess::start(config, &servers.url, &servers.backplane, &prefix);
    calls.get(1);
    for command in ["invalidate 1", "refresh 1", "clean user:1", "clean_all"] {
        let old = calls.warm(1);
        let answer = child.order(command);
        let changed = Instant::now();
        let new = first_value_other_than(&calls, old, changed)?;
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

/// Calls `value(1)` until it is not `old`, for at most `PATIENCE` after `changed`.
fn first_value_other_than(calls: &Calls, old: u64, changed: Instant) -> Result<u64, Failed> {
    loop {
        let value = calls.get(1);
        if value != old {
            return Ok(value);
        }
        if changed.elapsed() > PATIENCE {
            return Err(format!("the old value {old} still served after {PATIENCE:?}").into());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn a_lost_channel_empties_the_tier(mode: &str) -> Result<(), Failed> {
    let mut redis = Server::start(Kind::Redis);
    let url = redis.url();
    let prefix = support::unique_prefix("two-level-lost");
    let cache = Cache::builder()
        .url(&format!("{url}?local=1000"))?
        .prefix(prefix.clone())
        .connect_timeout(Duration::from_millis(200))
        .io_timeout(Duration::from_millis(500))
        .build()?;
    let calls = Calls::new(cache, mode);
    let kept = calls.get(1);
    if calls.warm(1) != kept {
        return Err("the warm value is not the stored one".into());
    }
    redis.stop();
    until(
        || calls.cache().__local_tier_listening() == Some(false),
        "the tier to notice",
    )?;
    for _ in 0..20 {
        // The server is down: each call computes, none gets the kept value.
        if calls.get(1) == kept {
            return Err("the local tier served while its channel was down".into());
        }
    }
    redis.restart();
    let mut child = ChildProcess::start(Config::Redis, &url, &url, &prefix);
    if child.order("invalidate 1") != "done" {
        return Err("the child's invalidation failed".into());
    }
    until(
        || calls.cache().__local_tier_listening() == Some(true),
        "the tier to listen again",
    )?;
    for _ in 0..200 {
        if calls.get(1) == kept {
            return Err("the value kept before the restart was served".into());
        }
    }
    if calls.cache().stats().local_hits == 0 {
        return Err("no local hit at all".into());
    }
    Ok(())
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
            _ => Config::MemcachedBackplane,
        };
        let cache = config.cache(url, backplane, prefix, false);
        let w = new_world(cache);
        world(w).runs.store(CHILD_VALUES, SeqCst);
        let cache = &world(w).cache;
        println!("ready");
        for line in std::io::stdin().lines() {
            let line = line.unwrap();
            let answer = match line.split_once(' ').unwrap_or((&line, "")) {
                ("invalidate", id) => value_invalidate(w, id.parse().unwrap())
                    .map_or_else(|error| error.to_string(), |()| "done".to_owned()),
                ("refresh", id) => format!("refreshed {}", value_refresh(w, id.parse().unwrap())),
                ("clean", tag) => cache
                    .clean(&[tag])
                    .map_or_else(|error| error.to_string(), |()| "done".to_owned()),
                ("clean_all", _) => cache
                    .clean_all()
                    .map_or_else(|error| error.to_string(), |()| "done".to_owned()),
                ("quit", _) => return,
                (other, _) => panic!("an unknown command {other:?}"),
            };
            println!("{answer}");
            std::io::stdout().flush().unwrap();
        }
    }
}
