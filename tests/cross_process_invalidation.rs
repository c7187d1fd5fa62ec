//! No stale read after another process's invalidation: a call of this
//! process that starts after another process's `foo_invalidate`, `clean` or
//! `clean_all` returned is never handed a value computed before it, even when
//! it joins a computation of this process that started earlier.
//!
//! Each test pauses a computation of this process after it read its data,
//! has a child process (this binary again, with `CHILD_ENV` set) change the
//! data's entry on the same server and prefix, starts a second call once the
//! child has exited, waits until that call has joined the paused
//! computation, and lets it finish. On Redis and Memcached, with callers on
//! threads and on tokio tasks.
//!
//! A custom harness (libtest-mimic), so that the child's entry point is not
//! counted as a test.

mod support;

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cachetool::{cached, Cache};
use cachetool_test_harness::{Kind, Server};
use libtest_mimic::{Failed, Trial};

const CHILD_ENV: &str = "CACHETOOL_CROSS_PROCESS_CHILD";
const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
enum Change {
    Invalidate,
    Clean,
    CleanAll,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Threads,
    Tasks,
}

/// One test's cache, data and pause, found by the argument `n` the test calls with.
struct Scenario {
    cache: Cache,
    data: AtomicUsize,
    /// Whether the next computation pauses (only the first one does).
    armed: AtomicBool,
    started: std::sync::Barrier,
    resume: std::sync::Barrier,
    started_task: tokio::sync::Barrier,
    resume_task: tokio::sync::Barrier,
}

static SCENARIOS: Mutex<Vec<&'static Scenario>> = Mutex::new(Vec::new());

fn scenario(n: usize) -> &'static Scenario {
    SCENARIOS.lock().unwrap()[n]
}

fn server(kind: Kind) -> &'static Server {
    static REDIS: LazyLock<Server> = LazyLock::new(|| Server::start(Kind::Redis));
    static MEMCACHED: LazyLock<Server> = LazyLock::new(|| Server::start(Kind::Memcached));
    match kind {
        Kind::Redis => &REDIS,
        Kind::Memcached => &MEMCACHED,
        #[allow(unreachable_patterns)]
        other => panic!("no server for {other:?}"),
    }
}

#[cached(cache = scenario(n).cache, name = "cross", tags = [format!("cross{n}")])]
fn value(n: usize) -> String {
    let scenario = scenario(n);
    let value = format!("{}", scenario.data.load(SeqCst));
    if scenario.armed.swap(false, SeqCst) {
        scenario.started.wait();
        scenario.resume.wait();
    }
    value
}

/// `value` as an `async fn`: the same name, tags and cache, so the same entry.
#[cached(cache = scenario(n).cache, name = "cross", tags = [format!("cross{n}")])]
async fn value_async(n: usize) -> String {
    let scenario = scenario(n);
    let value = format!("{}", scenario.data.load(SeqCst));
    if scenario.armed.swap(false, SeqCst) {
        scenario.started_task.wait().await;
        scenario.resume_task.wait().await;
    }
    value
}

fn main() {
    cachetool_test_harness::child::main_or_child(CHILD_ENV, child::run, trials).exit();
}

fn trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    for kind in [Kind::Redis, Kind::Memcached] {
        for change in [Change::Invalidate, Change::Clean, Change::CleanAll] {
            for mode in [Mode::Threads, Mode::Tasks] {
                let name = format!("{kind:?}::{mode:?}::a_call_after_another_process_{change:?}_is_not_handed_an_older_value")
                    .to_lowercase();
                trials.push(Trial::test(name, move || race(kind, change, mode)));
            }
        }
    }
    trials
}

fn new_scenario(kind: Kind) -> usize {
    let url = server(kind).url();
    let cache = Cache::builder()
        .url(&url)
        .unwrap()
        .prefix(support::unique_prefix("cross"))
        .build()
        .unwrap();
    let scenario = Box::leak(Box::new(Scenario {
        cache,
        data: AtomicUsize::new(0),
        armed: AtomicBool::new(true),
        started: std::sync::Barrier::new(2),
        resume: std::sync::Barrier::new(2),
        started_task: tokio::sync::Barrier::new(2),
        resume_task: tokio::sync::Barrier::new(2),
    }));
    let mut scenarios = SCENARIOS.lock().unwrap();
    scenarios.push(scenario);
    scenarios.len() - 1
}

/// Waits until `condition` holds, failing after [`PATIENCE`].
fn until(condition: impl Fn() -> bool, what: &str) -> Result<(), Failed> {
    let started = Instant::now();
    while !condition() {
        if started.elapsed() > PATIENCE {
            return Err(format!("gave up waiting until {what}").into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn race(kind: Kind, change: Change, mode: Mode) -> Result<(), Failed> {
    let n = new_scenario(kind);
    let scenario = scenario(n);
    let (computing, arriving, after) = match mode {
        Mode::Threads => {
            let computing = std::thread::spawn(move || value(n));
            scenario.started.wait();
            scenario.data.fetch_add(1, SeqCst);
            child::change(kind, &scenario.cache, change, n)?;
            let joins = scenario.cache.__flight_joins();
            let arriving = std::thread::spawn(move || value(n));
            until(
                || scenario.cache.__flight_joins() > joins,
                "the second call waits for the first",
            )?;
            scenario.resume.wait();
            let computing = computing.join().unwrap();
            let arriving = arriving.join().unwrap();
            (computing, arriving, value(n))
        }
        Mode::Tasks => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let computing = tokio::spawn(value_async(n));
                scenario.started_task.wait().await;
                scenario.data.fetch_add(1, SeqCst);
                let cache = scenario.cache.clone();
                tokio::task::spawn_blocking(move || child::change(kind, &cache, change, n))
                    .await
                    .unwrap()?;
                let joins = scenario.cache.__flight_joins();
                let arriving = tokio::spawn(value_async(n));
                let deadline = Instant::now() + PATIENCE;
                while scenario.cache.__flight_joins() == joins {
                    if Instant::now() > deadline {
                        return Err(Failed::from("the second call never waited for the first"));
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                scenario.resume_task.wait().await;
                let computing = computing.await.unwrap();
                let arriving = arriving.await.unwrap();
                Ok((computing, arriving, value_async(n).await))
            })?
        }
    };
    if computing != "0" {
        return Err(
            format!("the first call computed {computing:?} before the change, not \"0\"").into(),
        );
    }
    if arriving != "1" {
        return Err(format!(
            "the call that started after the other process's {change:?} returned got {arriving:?}, computed before it"
        )
        .into());
    }
    if after != "1" {
        return Err(format!("a later call got {after:?}").into());
    }
    Ok(())
}

/// The other process: changes the entry of `value(n)` through its own cache.
mod child {
    use super::*;

    static CACHE: OnceLock<Cache> = OnceLock::new();

    /// `value`'s twin in the child: only invalidated, never computed.
    #[allow(dead_code)]
    #[cached(cache = CACHE.get().expect("child mode"), name = "cross", tags = [format!("cross{n}")])]
    fn value(n: usize) -> String {
        format!("{n}: computed by the child")
    }

    /// Runs this binary as a child that makes `change` to `cache`'s entry of
    /// `n`, and waits (boundedly) for it to succeed.
    pub(super) fn change(
        kind: Kind,
        cache: &Cache,
        change: Change,
        n: usize,
    ) -> Result<(), Failed> {
        let spec = format!("{}|{}|{change:?}|{n}", server(kind).url(), cache.prefix());
        let mut child = cachetool_test_harness::child::this_binary(CHILD_ENV, &spec)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|error| format!("spawn the child: {error}"))?;
        let status =
            cachetool_test_harness::child::wait_until(&mut child, Instant::now() + PATIENCE)?;
        match status.success() {
            true => Ok(()),
            false => Err(format!("the child failed: {status}").into()),
        }
    }

    /// The child's side: `url|prefix|change|n`.
    pub(super) fn run(spec: &str) {
        let [url, prefix, change, n] = spec.split('|').collect::<Vec<_>>()[..] else {
            panic!("a bad child spec: {spec}");
        };
        let n: usize = n.parse().unwrap();
        let cache = Cache::builder()
            .url(url)
            .unwrap()
            .prefix(prefix)
            .build()
            .unwrap();
        let cache = CACHE.get_or_init(|| cache);
        let outcome = match change {
            "Invalidate" => value_invalidate(n),
            "Clean" => cache.clean(&[format!("cross{n}")]),
            "CleanAll" => cache.clean_all(),
            other => panic!("an unknown change: {other}"),
        };
        if let Err(error) = outcome {
            eprintln!("the child's {change} failed: {error}");
            std::process::exit(1);
        }
    }
}
