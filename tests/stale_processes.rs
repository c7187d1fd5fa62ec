//! `stale` across processes: 4 OS processes each find one key stale, each
//! serve the old value at once and start a recomputation in the background,
//! and the body runs once in total (counted on the server itself), on Redis
//! and on Memcached, for sync functions (the cache's threads) and async ones
//! (tokio tasks).
//!
//! The processes' recomputations provably overlap: each child reports on
//! the server once its recomputation has missed (its load span opened), and
//! the body, in whichever process won the key's lock, returns only after
//! every child has. So each recomputation read the key before the new value
//! existed, and only the lock kept the others from computing it again.
//!
//! A custom harness (libtest-mimic), as `dogpile_processes.rs`: the child's
//! entry point is this binary again, with `CHILD_ENV` set.

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cachetool::{cached, Cache};
use cachetool_test_harness::{Client, Kind, Server};
use libtest_mimic::{Failed, Trial};
use support::counters::Counters;

const CHILD_ENV: &str = "CACHETOOL_STALE_CHILD";
const PROCESSES: u64 = 4;
const PATIENCE: Duration = Duration::from_secs(60);
/// The first value's TTL (`support::short_then_long`); the recomputed one
/// lives an hour, so that the children's checks after it race no expiry.
const TTL: Duration = Duration::from_secs(2);

fn main() {
    cachetool_test_harness::child::main_or_child(CHILD_ENV, child::run, trials).exit();
}

fn trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    for kind in [Kind::Redis, Kind::Memcached] {
        for mode in ["threads", "tasks"] {
            let name = format!(
                "{}::{PROCESSES}_processes_recompute_a_stale_key_once_on_{mode}",
                format!("{kind:?}").to_lowercase()
            );
            trials.push(Trial::test(name, move || recomputed_once(kind, mode)));
        }
    }
    trials
}

fn recomputed_once(kind: Kind, mode: &'static str) -> Result<(), Failed> {
    let server = Server::start(kind);
    let counters = Counters {
        client: server.client(),
        prefix: support::unique_prefix("stale-processes"),
    };
    for name in ["runs", "missed"] {
        counters.create(name);
    }
    let spec = |role: &str| {
        format!(
            "{kind:?}|{mode}|{role}|{}|{}|{}",
            server.url(),
            server.address(),
            counters.prefix
        )
    };
    // One child stores the value, and the key goes stale.
    let said = run_to_end(vec![spawn(&spec("warm"))])?;
    let stored_by = Instant::now();
    if !said[0].contains("WARM 1") {
        return Err(format!("the first child did not store the value: {said:?}").into());
    }
    let grace = match kind {
        Kind::Memcached => Duration::from_secs(1),
        _ => Duration::from_millis(100),
    };
    std::thread::sleep((stored_by + TTL + grace).saturating_duration_since(Instant::now()));
    let children = (0..PROCESSES).map(|_| spawn(&spec("stale"))).collect();
    let said = run_to_end(children)?;
    for said in &said {
        if !said.contains("STALE OK 1") {
            return Err(format!("a child did not serve the stale value: {said:?}").into());
        }
    }
    match (counters.get("runs"), counters.get("missed")) {
        (2, PROCESSES) => Ok(()),
        (runs, missed) => Err(format!(
            "the body ran {runs} times (1 to store, 1 to recompute expected), {missed} of {PROCESSES} recomputations missed"
        )
        .into()),
    }
}

fn spawn(spec: &str) -> Child {
    cachetool_test_harness::child::this_binary(CHILD_ENV, spec)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the test binary as a child")
}

/// Waits for every child (killing all of them if one takes too long) and
/// gives what each printed.
fn run_to_end(mut children: Vec<Child>) -> Result<Vec<String>, Failed> {
    let deadline = Instant::now() + PATIENCE;
    let mut said = Vec::new();
    for index in 0..children.len() {
        let child = &mut children[index];
        let mut output = BufReader::new(child.stdout.take().unwrap());
        let status = match cachetool_test_harness::child::wait_until(child, deadline) {
            Ok(status) => status,
            Err(error) => {
                for child in &mut children {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                return Err(format!("{error} (within {PATIENCE:?})").into());
            }
        };
        let mut text = String::new();
        while output.read_line(&mut text).unwrap_or(0) > 0 {}
        if !status.success() {
            return Err(format!("a child failed ({status}): {text}").into());
        }
        said.push(text);
    }
    Ok(said)
}

/// One process of the test.
mod child {
    use super::*;

    use support::counters::{set_up, setup};

    /// Counts its run; a recomputation returns only once every process's
    /// recomputation has missed. Gives the run's number.
    fn body() -> u64 {
        let counters = &setup().counters;
        counters.bump("runs");
        let run = counters.get("runs");
        let deadline = Instant::now() + PATIENCE;
        while run > 1 && counters.get("missed") < PROCESSES {
            assert!(Instant::now() < deadline, "not every recomputation missed");
            std::thread::sleep(Duration::from_millis(5));
        }
        run
    }

    #[cached(cache = setup().cache, name = "stale.processes", ttl = |run: &u64| support::short_then_long(run), stale = 3600)]
    fn price(id: u64) -> u64 {
        let _ = id;
        body()
    }

    /// `price` as an `async fn`: the same name, so the same key and lock.
    #[cached(cache = setup().cache, name = "stale.processes", ttl = |run: &u64| support::short_then_long(run), stale = 3600)]
    async fn price_async(id: u64) -> u64 {
        let _ = id;
        tokio::task::spawn_blocking(body).await.unwrap()
    }

    /// `kind|mode|role|cache url|server address|prefix`; role `warm` stores
    /// the value, `stale` serves it stale and waits for its recomputation.
    pub(super) fn run(spec: &str) {
        let [kind, mode, role, url, address, prefix] = spec.split('|').collect::<Vec<_>>()[..]
        else {
            panic!("a bad child spec: {spec}");
        };
        let kind = match kind {
            "Redis" => Kind::Redis,
            _ => Kind::Memcached,
        };
        let capture = capture::global();
        let cache = Cache::builder()
            .url(url)
            .unwrap()
            .prefix(prefix)
            .io_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let counters = Counters {
            client: Client::new(kind, address),
            prefix: prefix.to_owned(),
        };
        set_up(cache, counters);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let call = || match mode {
            "threads" => price(7),
            _ => runtime.block_on(price_async(7)),
        };
        if role == "warm" {
            println!("WARM {}", call());
            return;
        }
        let served = call();
        // This process's recomputation misses (its load span opens), reported
        // on the server; the body holds the store until every process did.
        let deadline = Instant::now() + PATIENCE;
        while !capture
            .of_cache(prefix)
            .iter()
            .any(|record| matches!(record, capture::Record::Opened { .. }))
        {
            assert!(Instant::now() < deadline, "the recomputation did not miss");
            std::thread::sleep(Duration::from_millis(1));
        }
        setup().counters.bump("missed");
        while setup().cache.__recomputations_running() > 0 {
            assert!(Instant::now() < deadline, "the recomputation did not end");
            std::thread::sleep(Duration::from_millis(1));
        }
        let fresh = call();
        let stats = setup().cache.stats();
        assert_eq!((stats.stale, stats.errors), (1, 0), "{stats:?}");
        assert_eq!(
            fresh, 2,
            "the recomputed value, whichever process computed it"
        );
        println!("STALE OK {served}: {stats:?}");
        std::io::stdout().flush().unwrap();
    }
}
