//! Dogpile protection across processes: 4 OS processes of 8 threads (or 8
//! tokio tasks) each miss one cold key, and the body runs exactly once in
//! total, counted on the server itself (Redis `INCR`, memcached `incr`), on
//! Redis and on Memcached; and the same with a local tier in front of each
//! (two-level caching): one process computes, the others' local tiers fill
//! from the store.
//!
//! The processes provably overlap: each child reports on the server once one
//! of its calls has missed, and the body (in whichever process wins the lock)
//! returns only after every child has. So every process looked the key up
//! before the value existed, and still the body ran once. Children start
//! their callers on a "go" from the parent, sent once every child is ready:
//! no start time to meet.
//!
//! A process that crashes while it computes leaves its lock behind: others
//! wait for it only until it expires (the cache's `lock_timeout`), then
//! compute under a lock of their own.
//!
//! A custom harness (libtest-mimic): the child's entry point (this binary
//! again, with `CHILD_ENV` set) is not counted as a test.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use cachetool::{cached, Cache};
use cachetool_test_harness::{Client, Kind, Server};
use libtest_mimic::{Failed, Trial};
use support::counters::Counters;

const CHILD_ENV: &str = "CACHETOOL_DOGPILE_CHILD";
const PROCESSES: u64 = 4;
const CALLERS: usize = 8;
const PATIENCE: Duration = Duration::from_secs(60);

impl Counters {
    fn lock_key(&self) -> String {
        format!("{}:lock:orphan:k", self.prefix)
    }
}

fn main() {
    cachetool_test_harness::child::main_or_child(CHILD_ENV, child::run, trials).exit();
}

fn trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    for kind in [Kind::Redis, Kind::Memcached] {
        for (mode, local) in [
            ("threads", false),
            ("tasks", false),
            ("threads", true),
            ("tasks", true),
        ] {
            let tiers = if local { "_with_local_tiers" } else { "" };
            let name = format!(
                "{}::{PROCESSES}_processes_of_{CALLERS}_{mode}{tiers}_run_the_body_once",
                format!("{kind:?}").to_lowercase()
            );
            trials.push(Trial::test(name, move || {
                processes_run_the_body_once(kind, mode, local)
            }));
        }
        let name = format!(
            "{}::a_crashed_processs_lock_holds_others_only_until_it_expires",
            format!("{kind:?}").to_lowercase()
        );
        trials.push(Trial::test(name, move || a_crashed_lock_expires(kind)));
    }
    trials
}

fn processes_run_the_body_once(kind: Kind, mode: &str, local: bool) -> Result<(), Failed> {
    let server = Server::start(kind);
    // A local tier in front (Memcached's, bounded by `local_ttl`: no backplane here).
    let url = match (local, kind) {
        (false, _) => server.url(),
        (true, Kind::Redis) => format!("{}?local=1000", server.url()),
        (true, Kind::Memcached) => format!("{}?local=1000&local_ttl=30", server.url()),
    };
    let counters = Counters {
        client: server.client(),
        prefix: support::unique_prefix("dogpile-processes"),
    };
    counters.create("runs");
    counters.create("missed");
    let spec = format!(
        "{kind:?}|{mode}|{url}|{}|{}",
        server.address(),
        counters.prefix
    );
    let mut children: Vec<Child> = (0..PROCESSES)
        .map(|_| {
            cachetool_test_harness::child::this_binary(CHILD_ENV, &spec)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn the test binary as a child")
        })
        .collect();
    // Every child says "ready" once its cache is built; then all go at once.
    let mut outputs: Vec<_> = children
        .iter_mut()
        .map(|child| BufReader::new(child.stdout.take().unwrap()))
        .collect();
    for output in &mut outputs {
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        if line.trim() != "ready" {
            kill_all(&mut children);
            return Err(format!("a child did not get ready: {line:?}").into());
        }
    }
    for child in &mut children {
        child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    }
    let deadline = Instant::now() + PATIENCE;
    for (child, output) in children.iter_mut().zip(&mut outputs) {
        let status = match cachetool_test_harness::child::wait_until(child, deadline) {
            Ok(status) => status,
            Err(error) => {
                kill_all(&mut children);
                return Err(format!("{error} (within {PATIENCE:?})").into());
            }
        };
        let mut said = String::new();
        std::io::Read::read_to_string(output, &mut said).unwrap();
        if !status.success() || !said.contains(&format!("CHILD OK {CALLERS} of {CALLERS}")) {
            return Err(format!("a child failed ({status}): {said}").into());
        }
    }
    let (runs, missed) = (counters.get("runs"), counters.get("missed"));
    if missed != PROCESSES {
        return Err(format!("{missed} of {PROCESSES} processes missed").into());
    }
    if runs != 1 {
        return Err(format!(
            "the body ran {runs} times in {PROCESSES} processes x {CALLERS} {mode}"
        )
        .into());
    }
    Ok(())
}

/// The crashing child's lock timeout, and so its lock's expiry (memcached
/// counts whole seconds).
const CRASHED_LOCK: Duration = Duration::from_secs(2);

/// What the lock key held while `orphan` computed in this process.
static LOCK_WHILE_COMPUTING: std::sync::Mutex<Vec<(Kind, Option<Vec<u8>>)>> =
    std::sync::Mutex::new(Vec::new());
static CRASH_CACHES: std::sync::Mutex<Vec<(Kind, &'static Cache, Counters)>> =
    std::sync::Mutex::new(Vec::new());

fn crash_setup(kind: Kind) -> (&'static Cache, Counters) {
    let caches = CRASH_CACHES.lock().unwrap();
    let (_, cache, counters) = caches.iter().find(|(of, ..)| *of == kind).unwrap();
    (cache, counters.clone())
}

/// `orphan` in the test process: notes what the lock key holds as it computes.
#[cached(cache = crash_setup(kind).0, name = "orphan", key = "k")]
fn orphan(kind: Kind) -> u64 {
    let counters = crash_setup(kind).1;
    let lock = counters.raw(&counters.lock_key());
    LOCK_WHILE_COMPUTING.lock().unwrap().push((kind, lock));
    5
}

fn a_crashed_lock_expires(kind: Kind) -> Result<(), Failed> {
    let server = Server::start(kind);
    let counters = Counters {
        client: server.client(),
        prefix: support::unique_prefix("crashed-lock"),
    };
    let spec = format!(
        "{kind:?}|crash|{}|{}|{}",
        server.url(),
        server.address(),
        counters.prefix
    );
    let mut crashing = cachetool_test_harness::child::this_binary(CHILD_ENV, &spec)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the test binary as a child");
    let mut said = String::new();
    BufReader::new(crashing.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    let crashed_lock = counters.raw(&counters.lock_key());
    let _ = crashing.kill();
    let _ = crashing.wait();
    if said.trim() != "computing" || crashed_lock.is_none() {
        return Err(format!("the child did not compute under its lock: {said:?}").into());
    }
    let cache = Cache::builder()
        .url(&server.url())
        .unwrap()
        .prefix(counters.prefix.clone())
        // Far longer than the crashed lock lives: a wait that ends by this
        // timeout would compute without a lock, which the test tells apart.
        .lock_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    CRASH_CACHES
        .lock()
        .unwrap()
        .push((kind, Box::leak(Box::new(cache)), counters.clone()));
    assert_eq!(orphan(kind), 5);
    let seen = LOCK_WHILE_COMPUTING.lock().unwrap().clone();
    let seen: Vec<_> = seen.into_iter().filter(|(of, _)| *of == kind).collect();
    // Computed once, under a lock of its own: not the crashed one (still
    // there, it would have been waited for), not none (the wait timed out
    // and it computed without a lock).
    match &seen[..] {
        [(_, Some(lock))] if Some(lock) != crashed_lock.as_ref() => {}
        other => {
            return Err(
                format!("computed under {other:?}, the crashed lock was {crashed_lock:?}").into(),
            )
        }
    }
    if counters.raw(&counters.lock_key()).is_some() {
        return Err("its own lock was not released".into());
    }
    assert_eq!(orphan(kind), 5, "a hit");
    Ok(())
}

fn kill_all(children: &mut [Child]) {
    for child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// One process of the test.
mod child {
    use super::*;

    use support::counters::{set_up, setup};

    /// Counts its run, then returns only once every process has missed.
    fn body(n: u64) -> u64 {
        let counters = &setup().counters;
        counters.bump("runs");
        let deadline = Instant::now() + PATIENCE;
        while counters.get("missed") < PROCESSES {
            assert!(Instant::now() < deadline, "not every process missed");
            std::thread::sleep(Duration::from_millis(5));
        }
        n * 3
    }

    #[cached(cache = setup().cache, name = "cold", tags = ["t"])]
    fn cold(n: u64) -> u64 {
        body(n)
    }

    /// `cold` as an `async fn`: the same name, so the same key and lock.
    #[cached(cache = setup().cache, name = "cold", tags = ["t"])]
    async fn cold_async(n: u64) -> u64 {
        tokio::task::spawn_blocking(move || body(n)).await.unwrap()
    }

    /// `orphan` in the child that crashes: says it computes, and hangs (for
    /// at most a minute) until the parent kills it.
    #[cached(cache = setup().cache, name = "orphan", key = "k")]
    fn orphan() -> u64 {
        println!("computing");
        std::io::stdout().flush().unwrap();
        std::thread::sleep(PATIENCE);
        5
    }

    /// `kind|mode|cache url|server address|prefix`; mode `crash` computes
    /// `orphan` and is killed while it does.
    pub(super) fn run(spec: &str) {
        let [kind, mode, url, address, prefix] = spec.split('|').collect::<Vec<_>>()[..] else {
            panic!("a bad child spec: {spec}");
        };
        let kind = match kind {
            "Redis" => Kind::Redis,
            _ => Kind::Memcached,
        };
        let cache = Cache::builder()
            .url(url)
            .unwrap()
            .prefix(prefix)
            .io_timeout(Duration::from_secs(5))
            // The crashing child's lock expires soon; the others' waits are
            // the default 30 s, far longer than the test needs.
            .lock_timeout(match mode {
                "crash" => CRASHED_LOCK,
                _ => Duration::from_secs(30),
            })
            .build()
            .unwrap();
        let counters = Counters {
            client: Client::new(kind, address),
            prefix: prefix.to_owned(),
        };
        set_up(cache, counters);
        if mode == "crash" {
            orphan();
            return;
        }
        // Reports this process's first miss on the server.
        let reporter = std::thread::spawn(|| {
            let deadline = Instant::now() + PATIENCE;
            while setup().cache.stats().misses == 0 {
                assert!(Instant::now() < deadline, "no call of this process missed");
                std::thread::sleep(Duration::from_millis(1));
            }
            setup().counters.bump("missed");
        });
        println!("ready");
        let mut go = String::new();
        std::io::stdin().read_line(&mut go).unwrap();
        assert_eq!(go.trim(), "go");
        let values = match mode {
            "threads" => on_threads(),
            _ => on_tasks(),
        };
        reporter.join().unwrap();
        assert_eq!(values, vec![21; CALLERS]);
        if setup().cache.__local_tier_listening().is_some() {
            // The value the one computation stored fills this process's tier.
            let deadline = Instant::now() + PATIENCE;
            while setup().cache.stats().local_hits == 0 {
                assert!(Instant::now() < deadline, "no local hit");
                assert_eq!(cold(7), 21);
            }
        }
        let stats = setup().cache.stats();
        assert_eq!(stats.errors, 0, "{stats:?}");
        println!("CHILD OK {} of {CALLERS}: {stats:?}", values.len());
    }

    fn on_threads() -> Vec<u64> {
        let barrier = Barrier::new(CALLERS);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..CALLERS)
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

    fn on_tasks() -> Vec<u64> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CALLERS));
            let tasks: Vec<_> = (0..CALLERS)
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
}
