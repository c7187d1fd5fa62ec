//! The `two_level_invalidation` measurement (issue 12): how long after one
//! process calls `f_invalidate(k)` another process's local tier stops
//! serving `k`. Not a criterion timing: a distribution over many
//! invalidations (median, p99), written to the counts for `scripts/bench`.
//!
//! This bench binary runs itself again as a child (`CHILD_ENV` set). Both
//! processes hold a two-level cache (Redis with a local tier) on one
//! redis-server and prefix, started for this measurement alone (not pinned
//! to one CPU: the child polls on one core while the invalidation's message
//! reaches its subscriber thread on another). Each round, on a key of its
//! own:
//! 1. the child warms the key (a remote hit fills its local tier, then a
//!    local hit), answers `armed`, and polls: it calls `value(k)` until a
//!    call is not a local hit (`stats().local_hits` did not grow), stamping
//!    the clock before each call;
//! 2. the parent, on `armed`, stamps the clock and calls `value_invalidate(k)`;
//! 3. the child's first call that is not a local hit ran the body (the
//!    entry was gone from Redis too: the invalidation's doing), and the
//!    child answers with that call's stamp and the one of the last local hit.
//!
//! The delay is the child's stamp minus the parent's (and the drop itself
//! came after the stamp of the last local hit, also written). Both stamps are
//! `clock_gettime(CLOCK_MONOTONIC)`, one clock for every process of a boot
//! on Linux (the clock `std::time::Instant` reads, whose values cannot be
//! sent to another process): no pipe round trip to estimate and subtract,
//! which on a 2-core machine takes as long as what is measured. The
//! resolution is one poll, the gap between the two stamps, also written.
//!
//! Every key is stored before the child starts, so the child hears no
//! message of an earlier store of a key: what drops its copy is the
//! invalidation. A copy that goes while its entry is still in Redis (a
//! call that is a remote hit) is counted as spurious, and the child polls
//! on. Every wait is bounded: each answer by `PATIENCE`, the rounds by count.

use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cachetool::{cached, Cache};
use cachetool_test_harness::child::Conversation;
use cachetool_test_harness::{Kind, Server};

use super::Counts;

/// Set in the child's environment: `url|prefix`.
const CHILD_ENV: &str = "CACHETOOL_PEERS_INVALIDATION_CHILD";
/// Rounds run first and not counted: connections and code paths warm up.
const WARM_UP_ROUNDS: u64 = 20;
/// The longest either process waits for the other's next step.
const PATIENCE: Duration = Duration::from_secs(10);

/// Counted rounds: 1,000 under `cargo bench`, a few under `cargo test`.
fn counted_rounds(full: bool) -> u64 {
    if full {
        1000
    } else {
        20
    }
}

/// This process's two-level cache (the parent's or the child's).
static CACHE: OnceLock<Cache> = OnceLock::new();
/// The runs of `value`'s body in this process.
static LOADS: AtomicU64 = AtomicU64::new(0);

fn cache() -> &'static Cache {
    CACHE
        .get()
        .expect("the invalidation measurement's cache is set")
}

fn set_cache(url: &str, prefix: &str) {
    let cache = Cache::builder()
        .redis(url)
        .expect("the measurement's redis-server")
        .local(10_000)
        .prefix(prefix)
        .build()
        .expect("a two-level cache");
    assert!(CACHE.set(cache).is_ok(), "the measurement runs once");
}

/// The same function, and so the same entries, in both processes.
#[cached(cache = cache(), name = "peers.invalidation_delay")]
fn value(k: u64) -> u64 {
    LOADS.fetch_add(1, SeqCst);
    k
}

/// Nanoseconds of `CLOCK_MONOTONIC`: since boot, the same in every process.
fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given, nothing else.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_MONOTONIC) failed");
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// In the child (`CHILD_ENV` set): plays its part and exits. Call first
/// thing in `main`.
pub(super) fn run_child_if_asked() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    child::run(&spec);
    std::process::exit(0);
}

/// One round's figures, in nanoseconds.
struct Round {
    /// From just before the invalidation to the child's first call that
    /// found its copy gone.
    delay: u64,
    /// From just before the invalidation to the child's last call that
    /// found it still there (zero if that was before): the drop happened
    /// between the two.
    still_served: u64,
    /// The invalidation call itself, in the parent.
    invalidate: u64,
    /// From the child's stamp of its last local hit to that of its first
    /// miss: the delay's resolution.
    poll: u64,
    spurious: u64,
}

pub(super) fn measure(counts: &mut Counts, full: bool) {
    let server = Server::start(Kind::Redis);
    let url = server.url();
    let prefix = "peers-invalidation";
    set_cache(&url, prefix);
    let rounds = WARM_UP_ROUNDS + counted_rounds(full);
    // Stored before the child subscribes: it hears no message of these stores.
    for k in 0..rounds {
        value(k);
    }
    assert_eq!(LOADS.load(SeqCst), rounds, "every key stored once");

    // Each answer within twice the child's own patience.
    let mut child = Conversation::start(CHILD_ENV, &format!("{url}|{prefix}"), 2 * PATIENCE);
    let mut measured = Vec::new();
    let mut out_of_order = 0;
    for k in 0..rounds {
        let armed = child.order(&format!("arm {k}"));
        assert_eq!(
            armed, "armed",
            "two_level_invalidation: the child, round {k}"
        );
        let invalidated_at = monotonic_ns();
        value_invalidate(k).expect("two_level_invalidation: the invalidation failed");
        let returned_at = monotonic_ns();
        let answer = child.answer();
        let answered_at = monotonic_ns();
        let fields: Vec<u64> = answer
            .strip_prefix("dropped ")
            .map(|rest| rest.split(' ').filter_map(|n| n.parse().ok()).collect())
            .unwrap_or_default();
        let [last_hit, first_miss, spurious] = fields[..] else {
            panic!("two_level_invalidation: the child, round {k}: {answer}");
        };
        assert!(
            first_miss < answered_at,
            "two_level_invalidation: the child saw the drop after the parent heard of it: \
             the processes' CLOCK_MONOTONIC differ"
        );
        // The child's stamp precedes its lookup: a child descheduled between
        // the two for the whole delivery stamps a time before the invalidation.
        if first_miss < invalidated_at {
            out_of_order += 1;
            continue;
        }
        if k >= WARM_UP_ROUNDS {
            measured.push(Round {
                delay: first_miss - invalidated_at,
                still_served: last_hit.saturating_sub(invalidated_at),
                invalidate: returned_at - invalidated_at,
                poll: first_miss - last_hit,
                spurious,
            });
        }
    }
    drop(child);
    assert!(
        out_of_order * 10 <= rounds,
        "two_level_invalidation: in {out_of_order} of {rounds} rounds the child's stamp came \
         before the invalidation: the processes' CLOCK_MONOTONIC differ"
    );

    let delays = sorted(measured.iter().map(|round| round.delay));
    let still_served = sorted(measured.iter().map(|round| round.still_served));
    let invalidates = sorted(measured.iter().map(|round| round.invalidate));
    let polls = sorted(measured.iter().map(|round| round.poll));
    let spurious: u64 = measured.iter().map(|round| round.spurious).sum();
    counts.push(format!(
        r#"  {{"kind": "invalidation_delay", "rounds": {}, "warm_up_rounds": {WARM_UP_ROUNDS}, "out_of_order": {out_of_order}, "clock": "CLOCK_MONOTONIC", "median_ns": {}, "p99_ns": {}, "min_ns": {}, "max_ns": {}, "still_served_median_ns": {}, "still_served_p99_ns": {}, "invalidate_median_ns": {}, "poll_median_ns": {}, "poll_max_ns": {}, "spurious_drops": {spurious}}}"#,
        delays.len(),
        percentile(&delays, 50),
        percentile(&delays, 99),
        delays[0],
        delays[delays.len() - 1],
        percentile(&still_served, 50),
        percentile(&still_served, 99),
        percentile(&invalidates, 50),
        percentile(&polls, 50),
        polls[polls.len() - 1],
    ));
}

fn sorted(values: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut values: Vec<u64> = values.collect();
    assert!(
        !values.is_empty(),
        "two_level_invalidation: no round measured"
    );
    values.sort_unstable();
    values
}

/// The nearest-rank percentile `p` of `sorted`.
fn percentile(sorted: &[u64], p: usize) -> u64 {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The other process: warms a key, then watches its local copy go.
mod child {
    use super::*;

    /// `url|prefix`; then commands on stdin, one per line: `arm K`, `quit`.
    pub(super) fn run(spec: &str) {
        let (url, prefix) = spec.split_once('|').expect("the child's spec: url|prefix");
        set_cache(url, prefix);
        let deadline = Instant::now() + PATIENCE;
        while cache().__local_tier_listening() != Some(true) {
            if Instant::now() > deadline {
                return say(&format!(
                    "error: the local tier not listening after {PATIENCE:?}"
                ));
            }
            // Polling: the channel's subscription has no event to wait on.
            std::thread::sleep(Duration::from_millis(1));
        }
        say("ready");
        for line in std::io::stdin().lines() {
            let line = line.expect("the parent's command");
            let answer = match line.split_once(' ') {
                Some(("arm", k)) => {
                    let k = k.parse().expect("a key");
                    warm(k).and_then(|()| {
                        say("armed");
                        watch(k)
                    })
                }
                _ if line == "quit" => return,
                _ => Err(format!("an unknown command {line:?}")),
            };
            match answer {
                Ok(answer) => say(&answer),
                Err(error) => return say(&format!("error: {error}")),
            }
        }
    }

    fn say(line: &str) {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    }

    /// Calls `value(k)` until a call is a local hit; none may run the body
    /// (the parent stored every key).
    fn warm(k: u64) -> Result<(), String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let loads = LOADS.load(SeqCst);
            let local_hits = cache().stats().local_hits;
            black_box(value(k));
            if LOADS.load(SeqCst) != loads {
                return Err(format!("key {k} was not in Redis: the child ran the body"));
            }
            if cache().stats().local_hits > local_hits {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no local hit of key {k} within {PATIENCE:?}"));
            }
        }
    }

    /// Calls `value(k)` until a call is not a local hit and runs the body;
    /// `dropped LAST_HIT FIRST_MISS SPURIOUS` (stamps before each call).
    fn watch(k: u64) -> Result<String, String> {
        let deadline = Instant::now() + PATIENCE;
        let mut local_hits = cache().stats().local_hits;
        let mut last_hit = monotonic_ns();
        let mut spurious = 0u64;
        loop {
            let at = monotonic_ns();
            let loads = LOADS.load(SeqCst);
            black_box(value(k));
            let now = cache().stats().local_hits;
            if now == local_hits {
                if LOADS.load(SeqCst) != loads {
                    return Ok(format!("dropped {last_hit} {at} {spurious}"));
                }
                // A remote hit: the copy went while the entry was still in
                // Redis (not this invalidation's doing); the call kept it again.
                spurious += 1;
            } else {
                last_hit = at;
            }
            local_hits = now;
            if Instant::now() > deadline {
                return Err(format!("key {k} still a local hit after {PATIENCE:?}"));
            }
            // On 2 cores, the subscriber thread that applies the message may
            // be waiting for this one's.
            std::thread::yield_now();
        }
    }
}
