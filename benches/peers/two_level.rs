//! The `two_level_hit` group (issue 12): a hit in the local tier a cache
//! keeps in front of Redis (`CacheBuilder::local`), one hot key, against a
//! bare redis crate `GET` (the floor, as `redis_hit`'s), an in-memory hit and
//! a Redis hit without the local tier. (`cached`'s `AsyncRedisCache` with
//! client-side caching is left out: see the table's prose in `scripts/bench`.)
//!
//! Besides the times, each row's server commands per call are counted by
//! the server (`INFO commandstats`) and written to the counts: a two-level
//! hit must send none. The set-up panics if the two-level calls are not
//! local hits.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::LazyLock;

use cachetool::{cached, Cache, Stats};
use cachetool_test_harness::redis::{command_stats, connect, delta};
use criterion::Criterion;

use super::{compute, interleaved, Counts, REDIS, SHORT};

/// The one hot key of every row: `f(HOT, SHORT)`.
const HOT: u64 = 7;
/// The local tier's entries, and the in-memory cache's.
const LOCAL_ENTRIES: usize = 10_000;
/// Calls of each row whose server commands are counted.
const COUNTED_CALLS: u64 = 1000;

static TWO_LEVEL_CACHE: LazyLock<Cache> = LazyLock::new(|| {
    Cache::builder()
        .redis(&REDIS.url())
        .unwrap()
        .local(LOCAL_ENTRIES)
        .prefix("peers-two-level")
        .build()
        .unwrap()
});

static MEMORY_CACHE: LazyLock<Cache> =
    LazyLock::new(|| Cache::builder().capacity(LOCAL_ENTRIES).build().unwrap());

static REMOTE_CACHE: LazyLock<Cache> = LazyLock::new(|| {
    Cache::builder()
        .redis(&REDIS.url())
        .unwrap()
        .prefix("peers-remote")
        .build()
        .unwrap()
});

#[cached(cache = TWO_LEVEL_CACHE)]
fn ct_two_level(a: u64, b: &str) -> u64 {
    compute(a, b)
}

#[cached(cache = MEMORY_CACHE)]
fn ct_memory(a: u64, b: &str) -> u64 {
    compute(a, b)
}

#[cached(cache = REMOTE_CACHE)]
fn ct_remote(a: u64, b: &str) -> u64 {
    compute(a, b)
}

/// Calls `get` until one call is a local hit of `cache`, for at most 20 s:
/// the first may wait for the change channel, and for the message of its
/// own store, which drops the copy once.
fn warm_two_level(cache: &Cache, get: impl Fn() -> u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let before = cache.stats().local_hits;
        get();
        if cache.stats().local_hits > before {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "two_level_hit: no local hit within 20 s (is the local tier's channel up?)"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The server commands (`INFO commandstats`, the subscribers' `PING`s left
/// out) that `COUNTED_CALLS` calls of `f` sent.
fn commands_of(conn: &mut redis::Connection, f: &dyn Fn() -> u64) -> u64 {
    let before = command_stats(conn);
    for _ in 0..COUNTED_CALLS {
        black_box(f());
    }
    let sent: BTreeMap<String, u64> = delta(&before, &command_stats(conn));
    sent.iter()
        .filter(|(name, _)| name.as_str() != "ping")
        .map(|(_, calls)| calls)
        .sum()
}

/// Panics unless every call on `cache` since `before` was a local hit: none
/// went to Redis or ran the body, and, where the number of calls is known,
/// `local_hits` grew by that number.
fn assert_local_hits(cache: &Cache, before: Stats, calls: Option<u64>, when: &str) {
    let after = cache.stats();
    let local_hits = after.local_hits - before.local_hits;
    let remote_hits = (after.hits - after.local_hits) - (before.hits - before.local_hits);
    let loads = after.loads - before.loads;
    let errors = after.errors - before.errors;
    let counted = calls.map_or(local_hits > 0, |calls| local_hits == calls);
    assert!(
        counted && remote_hits == 0 && loads == 0 && errors == 0,
        "two_level_hit, {when}: {} calls made; the local tier answered {local_hits}, \
         {remote_hits} went to Redis, {loads} ran the body, {errors} failed: \
         the row would not measure a two-level hit",
        calls.map_or("some".to_owned(), |calls| calls.to_string()),
    );
}

pub(super) fn rows(c: &mut Criterion, counts: &mut Counts, full: bool) {
    let mut conn = connect(&REDIS.url());
    // The floor reads a value of the size of an entry's (as `redis_hit`'s).
    let _: () = redis::cmd("SET")
        .arg("plain")
        .arg(&[b'v'; 32][..])
        .query(&mut conn)
        .unwrap();
    let floor_conn = std::cell::RefCell::new(connect(&REDIS.url()));
    let floor = || {
        let value: Vec<u8> = redis::cmd("GET")
            .arg("plain")
            .query(&mut *floor_conn.borrow_mut())
            .unwrap();
        black_box(value.len() as u64)
    };
    #[allow(clippy::type_complexity)]
    let rows: Vec<(&str, Box<dyn Fn() -> u64>)> = vec![
        ("floor", Box::new(floor)),
        (
            "cachetool_two_level",
            Box::new(|| ct_two_level(black_box(HOT), black_box(SHORT))),
        ),
        (
            "cachetool_memory",
            Box::new(|| ct_memory(black_box(HOT), black_box(SHORT))),
        ),
        (
            "cachetool_redis",
            Box::new(|| ct_remote(black_box(HOT), black_box(SHORT))),
        ),
    ];
    for (_, f) in &rows {
        f();
    }
    warm_two_level(&TWO_LEVEL_CACHE, || ct_two_level(HOT, SHORT));

    // Before anything is timed: the two-level calls are local hits, each.
    let before = TWO_LEVEL_CACHE.stats();
    for _ in 0..COUNTED_CALLS {
        black_box(ct_two_level(HOT, SHORT));
    }
    assert_local_hits(&TWO_LEVEL_CACHE, before, Some(COUNTED_CALLS), "set-up");
    for (row, f) in &rows {
        let commands = commands_of(&mut conn, f.as_ref());
        counts.push(format!(
            r#"  {{"kind": "server_commands", "group": "two_level_hit", "row": "{row}", "calls": {COUNTED_CALLS}, "commands": {commands}}}"#
        ));
    }

    let before = TWO_LEVEL_CACHE.stats();
    let mut group = c.benchmark_group("two_level_hit");
    for (row, f) in &rows {
        group.bench_function(*row, |bencher| bencher.iter(|| black_box(f())));
    }
    group.finish();

    let (floor, rest) = rows.split_first().unwrap();
    let rounds = if full { 21 } else { 1 };
    for (row, f) in rest {
        let ratio = interleaved(
            rounds,
            200,
            || {
                black_box(f());
            },
            || {
                black_box((floor.1)());
            },
        );
        counts.interleaved("two_level_hit", row, ratio);
    }
    // The second target, interleaved against the in-memory hit itself:
    // both take about a hundred nanoseconds, so more calls a round.
    let ratio = interleaved(
        if full { 31 } else { 1 },
        2000,
        || {
            black_box(ct_two_level(black_box(HOT), black_box(SHORT)));
        },
        || {
            black_box(ct_memory(black_box(HOT), black_box(SHORT)));
        },
    );
    counts.interleaved(
        "two_level_hit/cachetool_memory",
        "cachetool_two_level",
        ratio,
    );
    // Every call timed above was a local hit too (how many criterion made
    // it does not say: none went to Redis nor ran the body).
    assert_local_hits(&TWO_LEVEL_CACHE, before, None, "measured");
}
