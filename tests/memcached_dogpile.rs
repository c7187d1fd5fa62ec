//! Dogpile protection across processes: 4 OS processes of 8 threads each miss
//! one cold key at the same moment, and the body runs exactly once in total,
//! counted with memcached `incr` (not in any process's memory).
//!
//! The parent test runs this test binary 4 times, in child mode (an
//! environment variable says so), each running only `dogpile_child_process`.

#![cfg(feature = "memcached")]

mod support;

use std::process::{Command, Stdio};
use std::sync::{Barrier, LazyLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cachetool::{cached, Cache};
use support::memcached::request;
use support::server::{Kind, Server};

const PROCESSES: usize = 4;
const THREADS: usize = 8;
/// Set in a child: `{address} {prefix} {start at, Unix ms} {threads|tasks}`.
const CHILD_ENV: &str = "CACHETOOL_MEMCACHED_DOGPILE_CHILD";

fn counter_key(prefix: &str) -> String {
    format!("{prefix}-body-runs")
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn four_processes_of_eight_threads_run_the_body_once() {
    four_processes_run_the_body_once("threads");
}

#[cfg(feature = "tokio")]
#[test]
fn four_processes_of_eight_async_tasks_run_the_body_once() {
    four_processes_run_the_body_once("tasks");
}

/// `mode`: whether each child's callers are threads calling `cold` or tasks awaiting `cold_async`.
fn four_processes_run_the_body_once(mode: &str) {
    let server = Server::start(Kind::Memcached);
    let address = server.address();
    let prefix = support::unique_prefix("mc-dogpile");
    request(
        &address,
        format!("set {} 0 0 1\r\n0\r\n", counter_key(&prefix)).as_bytes(),
        &[b"STORED\r\n"],
    );
    // All start at one moment, after every process has started.
    let start_at = unix_ms() + 1500;
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "dogpile_child_process",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, format!("{address} {prefix} {start_at} {mode}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn a child test process")
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for mut child in children {
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("a child process did not finish within 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            status.success(),
            "child failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("CHILD OK 8 of 8"),
            "the child ran its threads: {stdout}"
        );
    }
    let runs = request(
        &address,
        format!("get {}\r\n", counter_key(&prefix)).as_bytes(),
        &[b"END\r\n"],
    );
    let runs = String::from_utf8(runs).unwrap();
    assert!(
        runs.contains("\r\n1\r\n"),
        "the body ran exactly once in all processes: {runs:?}"
    );
}

static CHILD: LazyLock<Option<(String, String, u64, String)>> = LazyLock::new(|| {
    let value = std::env::var(CHILD_ENV).ok()?;
    let mut parts = value.split(' ');
    Some((
        parts.next()?.to_owned(),
        parts.next()?.to_owned(),
        parts.next()?.parse().ok()?,
        parts.next()?.to_owned(),
    ))
});

static CHILD_CACHE: LazyLock<Cache> = LazyLock::new(|| {
    let (address, prefix, _, _) = CHILD.as_ref().expect("child mode");
    Cache::builder()
        .memcached(&format!("memcache://{address}"))
        .unwrap()
        .prefix(prefix.clone())
        .build()
        .unwrap()
});

#[cached(cache = &*CHILD_CACHE, name = "dogpile.cold")]
fn cold(n: u64) -> u64 {
    let (address, prefix, _, _) = CHILD.as_ref().expect("child mode");
    request(
        address,
        format!("incr {} 1\r\n", counter_key(prefix)).as_bytes(),
        &[b"\r\n"],
    );
    // Long enough for every process and thread to pile up behind this one.
    std::thread::sleep(Duration::from_millis(500));
    n * 3
}

/// `cold` as an `async fn`: the same name, so the same key and lock.
#[cfg(feature = "tokio")]
#[cached(cache = &*CHILD_CACHE, name = "dogpile.cold")]
async fn cold_async(n: u64) -> u64 {
    let (address, prefix, _, _) = CHILD.as_ref().expect("child mode");
    let (address, counter) = (address.clone(), counter_key(prefix));
    tokio::task::spawn_blocking(move || {
        request(
            &address,
            format!("incr {counter} 1\r\n").as_bytes(),
            &[b"\r\n"],
        )
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    n * 3
}

/// Child mode only (run by the test above with the environment variable set);
/// otherwise there is nothing to do.
#[test]
fn dogpile_child_process() {
    let Some((_, _, start_at, mode)) = CHILD.as_ref() else {
        return;
    };
    let results = match mode.as_str() {
        "threads" => on_threads(*start_at),
        _ => on_tasks(*start_at),
    };
    assert_eq!(results, vec![42; THREADS]);
    assert_eq!(CHILD_CACHE.stats().errors, 0);
    println!("CHILD OK {} of {THREADS}", results.len());
}

#[cfg(not(feature = "tokio"))]
fn on_tasks(_: u64) -> Vec<u64> {
    unreachable!("the async mode is started only with the tokio feature")
}

#[cfg(feature = "tokio")]
fn on_tasks(start_at: u64) -> Vec<u64> {
    let _ = &*CHILD_CACHE;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let wait = start_at.saturating_sub(unix_ms());
        tokio::time::sleep(Duration::from_millis(wait.min(10_000))).await;
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(THREADS));
        let tasks: Vec<_> = (0..THREADS)
            .map(|_| {
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    cold_async(14).await
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            let result = tokio::time::timeout(Duration::from_secs(60), task).await;
            results.push(result.expect("a task finished in time").unwrap());
        }
        results
    })
}

fn on_threads(start_at: u64) -> Vec<u64> {
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    let _ = &*CHILD_CACHE;
                    barrier.wait();
                    let wait = start_at.saturating_sub(unix_ms());
                    std::thread::sleep(Duration::from_millis(wait.min(10_000)));
                    cold(14)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    })
}
