//! Dogpile protection across processes: 4 OS processes x 8 threads miss one
//! cold key on one redis-server, and the body runs exactly once in total,
//! counted in Redis itself with INCR.
//!
//! The parent test spawns this test binary 4 times with `CHILD_ENV` set,
//! running only `dogpile_child`; without that variable `dogpile_child` has
//! nothing to do and returns at once.

#![cfg(feature = "redis")]

mod support;

use std::process::{Command, Stdio};
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cachetool::{cached, Cache};
use support::server::{Kind, Server};

const CHILD_ENV: &str = "CACHETOOL_REDIS_DOGPILE_CHILD";
const PROCESSES: usize = 4;
const THREADS: usize = 8;
const PATIENCE: Duration = Duration::from_secs(60);

struct Child {
    url: String,
    prefix: String,
    cache: Cache,
}

static CHILD: OnceLock<Child> = OnceLock::new();

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[cached(cache = &CHILD.get().expect("child mode").cache, name = "cold", tags = ["t"])]
fn cold(n: u64) -> u64 {
    let child = CHILD.get().expect("child mode");
    let mut conn = redis::Client::open(child.url.as_str())
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    let _: u64 = redis::cmd("INCR")
        .arg(format!("{}:runs", child.prefix))
        .query(&mut conn)
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    n * 3
}

/// `cold` as an `async fn`: the same name, so the same key and lock.
#[cfg(feature = "tokio")]
#[cached(cache = &CHILD.get().expect("child mode").cache, name = "cold", tags = ["t"])]
async fn cold_async(n: u64) -> u64 {
    let child = CHILD.get().expect("child mode");
    let url = child.url.clone();
    let runs = format!("{}:runs", child.prefix);
    tokio::task::spawn_blocking(move || {
        let mut conn = redis::Client::open(url.as_str())
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap();
        let _: u64 = redis::cmd("INCR").arg(runs).query(&mut conn).unwrap();
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    n * 3
}

/// How the callers of one process run: threads calling `cold`, or tasks awaiting `cold_async`.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Threads,
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Tasks,
}

/// One of the processes: waits for the common start time, then 8 threads (or
/// 8 tasks on a multi-thread runtime) call `cold(7)`.
#[test]
fn dogpile_child() {
    let Ok(setting) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = setting.splitn(4, '|');
    let (mode, url, prefix, start_ms) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().parse::<u64>().unwrap(),
    );
    let cache = Cache::builder()
        .redis(&url)
        .unwrap()
        .prefix(prefix.clone())
        .io_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    assert!(CHILD.set(Child { url, prefix, cache }).is_ok());
    let wait = start_ms.saturating_sub(unix_ms()).min(10_000);
    std::thread::sleep(Duration::from_millis(wait));
    let values = match mode.as_str() {
        "Threads" => on_threads(),
        _ => on_tasks(),
    };
    assert_eq!(values, vec![21; THREADS]);
    let stats = CHILD.get().unwrap().cache.stats();
    println!("child {} ({mode}): {stats:?}", std::process::id());
    assert_eq!(stats.errors, 0);
}

#[cfg(not(feature = "tokio"))]
fn on_tasks() -> Vec<u64> {
    unreachable!("the async mode is started only with the tokio feature")
}

#[cfg(feature = "tokio")]
fn on_tasks() -> Vec<u64> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(THREADS));
        let tasks: Vec<_> = (0..THREADS)
            .map(|_| {
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    cold_async(7).await
                })
            })
            .collect();
        let mut values = Vec::new();
        for task in tasks {
            values.push(tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap());
        }
        values
    })
}

fn on_threads() -> Vec<u64> {
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    cold(7)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    })
}

#[test]
fn four_processes_of_eight_threads_run_the_body_once() {
    four_processes_run_the_body_once(Mode::Threads);
}

#[cfg(feature = "tokio")]
#[test]
fn four_processes_of_eight_async_tasks_run_the_body_once() {
    four_processes_run_the_body_once(Mode::Tasks);
}

fn four_processes_run_the_body_once(mode: Mode) {
    let server = Server::start(Kind::Redis);
    let prefix = support::unique_prefix("dogpile-processes");
    // Every child starts its threads at the same moment, after its own startup.
    let start_ms = unix_ms() + 1500;
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "dogpile_child",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env(
                    CHILD_ENV,
                    format!("{mode:?}|{}|{prefix}|{start_ms}", server.url()),
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn the test binary")
        })
        .collect();
    let deadline = Instant::now() + PATIENCE;
    let mut statuses = Vec::new();
    for child in &mut children {
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        statuses.push(status);
    }
    for (child, status) in children.into_iter().zip(&statuses) {
        let output = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            status.is_some_and(|status| status.success()),
            "a child failed or timed out ({status:?}):\n{text}"
        );
        assert!(
            text.contains("1 passed"),
            "the child ran dogpile_child:\n{text}"
        );
    }
    let mut conn = support::redis::raw_connection(&server);
    let runs: u64 = redis::cmd("GET")
        .arg(format!("{prefix}:runs"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        runs, 1,
        "the body ran once in {PROCESSES} processes x {THREADS} {mode:?}"
    );
}

static CRASHED: std::sync::LazyLock<support::redis::Setup> = std::sync::LazyLock::new(|| {
    support::redis::Setup::new("dogpile-crashed", |builder| {
        builder.lock_timeout(Duration::from_secs(20))
    })
});
static CRASHED_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[cached(cache = &CRASHED.cache, name = "orphan", key = "k")]
fn orphan() -> u64 {
    CRASHED_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    5
}

#[test]
fn a_lock_left_by_a_crashed_holder_blocks_only_until_its_expiry() {
    let setup = &*CRASHED;
    let lock_key = format!("{}:lock:orphan:k", setup.cache.prefix());
    let mut conn = setup.raw();
    // Another process took the lock (for 400 ms) and died.
    let _: () = redis::cmd("SET")
        .arg(&lock_key)
        .arg("someone-else")
        .arg("PX")
        .arg(400)
        .query(&mut conn)
        .unwrap();
    let started = Instant::now();
    assert_eq!(orphan(), 5);
    let waited = started.elapsed();
    assert_eq!(CRASHED_RUNS.load(std::sync::atomic::Ordering::SeqCst), 1);
    // It waited for the expiry, not for the 20 s lock timeout of this cache
    // (bounds, not speed claims: the poll may start late, never early).
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(15), "{waited:?}");
    let exists: u64 = redis::cmd("EXISTS")
        .arg(&lock_key)
        .query(&mut conn)
        .unwrap();
    assert_eq!(exists, 0, "our own lock is released too");
    assert_eq!(orphan(), 5);
    assert_eq!(CRASHED_RUNS.load(std::sync::atomic::Ordering::SeqCst), 1);
}
