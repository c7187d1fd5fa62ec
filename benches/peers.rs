//! cachetool against the crates a user would compare it with, on the same
//! workloads in one run: `cached`'s `#[cached]`, `moka::sync::Cache`,
//! `quick_cache::sync::Cache`, and, as the floor of each group, the least a
//! hand-written cache or client does (a locked `HashMap` keyed by xxh3 of the
//! arguments; a bare Redis `GET`; a raw-socket Memcached `get`).
//!
//! `scripts/bench` runs it (`cargo bench --bench peers --features redis,memcached`) and writes
//! `BENCHMARKS.md` from criterion's estimates and from the exact counts this
//! bench writes to `$PEERS_COUNTS` (hit ratios, bodies run in a stampede,
//! server commands per call, the invalidation delay).
//! It starts its own `redis-server` and `memcached` on free loopback ports.
//!
//! Two-level caching (a local tier in front of Redis) has a hit group of its
//! own (`peers/two_level.rs`) and a measurement across two processes, the
//! delay of an invalidation (`peers/invalidation_delay.rs`: the bench runs
//! itself again as the second process).

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Barrier, LazyLock};
use std::time::{Duration, Instant};

use cachetool::{cached, Cache};
use cachetool_test_harness::{Kind, Server};
use criterion::{Criterion, Throughput};
use parking_lot::Mutex;
use xxhash_rust::xxh3::xxh3_128_with_seed;

#[path = "peers/zipf.rs"]
mod zipf;

#[path = "peers/two_level.rs"]
mod two_level;

#[cfg(target_os = "linux")]
#[path = "peers/invalidation_delay.rs"]
mod invalidation_delay;

/// Each hit row cycles over this many keys, all cached before it is measured.
const HOT_KEYS: u64 = 1000;
const SHORT: &str = "hello";
/// The argument of the `40B` rows: peers copy it into their key on every call.
const LONG: &str = "a forty-byte argument, copied or hashed.";

fn compute(a: u64, b: &str) -> u64 {
    a.wrapping_add(b.len() as u64)
}

// ---------------------------------------------------------------------------
// In memory, one cache per workload.

static CACHE: LazyLock<Cache> =
    LazyLock::new(|| Cache::builder().capacity(1_000_000).build().unwrap());

#[cached(cache = CACHE)]
fn ct_untagged(a: u64, b: &str) -> u64 {
    compute(a, b)
}

#[cached(cache = CACHE, tags = ["alpha", "beta"])]
fn ct_two_tags(a: u64, b: &str) -> u64 {
    compute(a, b)
}

#[cached(cache = CACHE, ttl = 600)]
fn ct_ttl(a: u64, b: &str) -> u64 {
    compute(a, b)
}

/// The miss rows store every call under a new key: each cache is bounded.
const MISS_CAPACITY: usize = 100_000;

static MISS_CACHE: LazyLock<Cache> =
    LazyLock::new(|| Cache::builder().capacity(MISS_CAPACITY).build().unwrap());

#[cached(cache = MISS_CACHE)]
fn ct_miss(a: u64, b: &str) -> u64 {
    compute(a, b)
}

/// The `cached` crate's functions, in their own module: its attribute and
/// cachetool's share a name.
mod peer {
    use cached::proc_macro::cached;

    /// `#[cached]` with every default: an unbounded store behind a lock.
    #[cached]
    pub(crate) fn plain(a: u64, b: &str) -> u64 {
        super::compute(a, b)
    }

    /// A bounded LRU store with a TTL.
    #[cached(max_size = 10_000, ttl_secs = 600)]
    pub(crate) fn bounded_ttl(a: u64, b: &str) -> u64 {
        super::compute(a, b)
    }

    /// The miss rows: bounded like the other caches of the group (an unbounded
    /// one would grow by millions of entries during the measurement).
    #[cached(max_size = 100_000)]
    pub(crate) fn miss(a: u64, b: &str) -> u64 {
        super::compute(a, b)
    }

    /// The stampede: concurrent misses of one key, `cached`'s defaults.
    #[cached]
    pub(crate) fn stampede(key: u64) -> u64 {
        super::stampede_body(key)
    }
}

/// The floor: a locked map from the xxh3-128 hash of the arguments to the value.
struct Floor {
    map: Mutex<HashMap<u128, u64>>,
    /// Cleared when it reaches this many entries (the miss rows).
    bound: usize,
}

impl Floor {
    fn new(bound: usize) -> Floor {
        Floor {
            map: Mutex::new(HashMap::new()),
            bound,
        }
    }

    fn call(&self, a: u64, b: &str) -> u64 {
        self.call_with(a, b, || compute(a, b))
    }

    fn call_with(&self, a: u64, b: &str, body: impl FnOnce() -> u64) -> u64 {
        let key = xxh3_128_with_seed(b.as_bytes(), a);
        if let Some(&value) = self.map.lock().get(&key) {
            return value;
        }
        let value = body();
        let mut map = self.map.lock();
        if map.len() >= self.bound {
            map.clear();
        }
        map.insert(key, value);
        value
    }
}

type Moka = moka::sync::Cache<(u64, String), u64>;
type Quick = quick_cache::sync::Cache<(u64, String), u64>;

fn moka_call(cache: &Moka, a: u64, b: &str) -> u64 {
    cache.get_with((a, b.to_owned()), || compute(a, b))
}

fn quick_call(cache: &Quick, a: u64, b: &str) -> u64 {
    match cache.get_or_insert_with(&(a, b.to_owned()), || Ok::<_, Infallible>(compute(a, b))) {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

/// The in-memory contenders of the hit rows, each as `f(a, b)`.
struct Contenders {
    floor: Floor,
    moka: Moka,
    quick: Quick,
}

impl Contenders {
    fn new() -> Contenders {
        Contenders {
            floor: Floor::new(usize::MAX),
            moka: Moka::new(10_000),
            quick: Quick::new(10_000),
        }
    }

    #[allow(clippy::type_complexity)]
    fn rows(&self) -> Vec<(&'static str, Box<dyn Fn(u64, &str) -> u64 + Sync + '_>)> {
        vec![
            ("floor", Box::new(|a, b| self.floor.call(a, b))),
            ("cachetool_untagged", Box::new(ct_untagged)),
            ("cachetool_two_tags", Box::new(ct_two_tags)),
            ("cachetool_ttl", Box::new(ct_ttl)),
            ("cached_default", Box::new(peer::plain)),
            ("cached_max_size_ttl", Box::new(peer::bounded_ttl)),
            (
                "moka_get_with",
                Box::new(|a, b| moka_call(&self.moka, a, b)),
            ),
            (
                "quick_cache_get_or_insert_with",
                Box::new(|a, b| quick_call(&self.quick, a, b)),
            ),
        ]
    }
}

/// One thread, 1,000 hot keys, `b` the same in every call.
fn hits(
    c: &mut Criterion,
    counts: &mut Counts,
    contenders: &Contenders,
    name: &str,
    b: &'static str,
    full: bool,
) {
    let rows = contenders.rows();
    for (_, f) in &rows {
        for a in 0..HOT_KEYS {
            f(a, b);
        }
    }
    let mut group = c.benchmark_group(name);
    for (row, f) in &rows {
        let mut a = 0;
        group.bench_function(*row, |bencher| {
            bencher.iter(|| {
                a = (a + 1) % HOT_KEYS;
                black_box(f(black_box(a), black_box(b)))
            })
        });
    }
    group.finish();
    let (floor, rest) = rows.split_first().unwrap();
    let rounds = if full { 31 } else { 1 };
    for (row, f) in rest {
        let (mut a, mut n) = (0, 0);
        let ratio = interleaved(
            rounds,
            2000,
            || {
                a = (a + 1) % HOT_KEYS;
                black_box(f(black_box(a), black_box(b)));
            },
            || {
                n = (n + 1) % HOT_KEYS;
                black_box((floor.1)(black_box(n), black_box(b)));
            },
        );
        counts.interleaved(name, row, ratio);
    }
}

/// Two threads calling the same cache, each over the hot keys from its own
/// offset. One iteration is one hit on each thread; the time is the wall time.
fn hits_two_threads(c: &mut Criterion, contenders: &Contenders) {
    let rows = contenders.rows();
    for (_, f) in &rows {
        for a in 0..HOT_KEYS {
            f(a, SHORT);
        }
    }
    let mut group = c.benchmark_group("hit_2t");
    group.throughput(Throughput::Elements(2));
    for (name, f) in &rows {
        if matches!(*name, "cachetool_ttl" | "cached_max_size_ttl") {
            continue;
        }
        group.bench_function(*name, |bencher| {
            bencher.iter_custom(|iters| {
                let barrier = Barrier::new(3);
                std::thread::scope(|scope| {
                    for thread in 0..2u64 {
                        let barrier = &barrier;
                        scope.spawn(move || {
                            let mut a = thread * HOT_KEYS / 2;
                            barrier.wait();
                            for _ in 0..iters {
                                a = (a + 1) % HOT_KEYS;
                                black_box(f(black_box(a), black_box(SHORT)));
                            }
                            barrier.wait();
                        });
                    }
                    barrier.wait();
                    let started = Instant::now();
                    barrier.wait();
                    started.elapsed()
                })
            })
        });
    }
    group.finish();
}

/// Every call a new key: hash, miss, compute (trivially), store.
fn misses(c: &mut Criterion) {
    let floor = Floor::new(MISS_CAPACITY);
    let moka = Moka::new(MISS_CAPACITY as u64);
    let quick = Quick::new(MISS_CAPACITY);
    #[allow(clippy::type_complexity)]
    let rows: Vec<(&str, Box<dyn Fn(u64, &str) -> u64>)> = vec![
        ("floor", Box::new(|a, b| floor.call(a, b))),
        ("cachetool_untagged", Box::new(ct_miss)),
        ("cached_max_size", Box::new(peer::miss)),
        ("moka_get_with", Box::new(|a, b| moka_call(&moka, a, b))),
        (
            "quick_cache_get_or_insert_with",
            Box::new(|a, b| quick_call(&quick, a, b)),
        ),
    ];
    let mut group = c.benchmark_group("miss");
    // Keys never repeat across rows either: each row starts past the last.
    let mut next = 1u64 << 40;
    for (name, f) in &rows {
        group.bench_function(*name, |bencher| {
            bencher.iter(|| {
                next += 1;
                black_box(f(black_box(next), black_box(SHORT)))
            })
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// The Zipfian workload: which keys stay cached matters more than speed.

const ZIPF_KEYS: usize = 1_000_000;
const ZIPF_CAPACITY: usize = 10_000;
/// Requests in each of the two traces (warm-up, then counted); `cargo test`
/// runs the bench once on short traces.
fn zipf_trace_len(full: bool) -> usize {
    if full {
        1_000_000
    } else {
        10_000
    }
}

static ZIPF_CACHE: LazyLock<Cache> =
    LazyLock::new(|| Cache::builder().capacity(ZIPF_CAPACITY).build().unwrap());
static ZIPF_NOLOCK_CACHE: LazyLock<Cache> =
    LazyLock::new(|| Cache::builder().capacity(ZIPF_CAPACITY).build().unwrap());
static ZIPF_LOADS: AtomicU64 = AtomicU64::new(0);

fn zipf_body(key: u64) -> u64 {
    ZIPF_LOADS.fetch_add(1, Relaxed);
    key
}

#[cached(cache = ZIPF_CACHE)]
fn ct_zipf(key: u64) -> u64 {
    zipf_body(key)
}

/// Without dogpile protection: a miss puts no lock key in the LRU.
#[cached(cache = ZIPF_NOLOCK_CACHE, lock = false)]
fn ct_zipf_no_lock(key: u64) -> u64 {
    zipf_body(key)
}

/// More quick_cache caches whose Zipf hit ratio is counted: each hashes with
/// a random seed of its own (foldhash's), which moves its ratio by a few
/// hundredths of a percent from one cache to the next.
const QUICK_CACHE_SEEDS: usize = 8;

/// The hit ratios of `caches` fresh quick_caches on the counted trace, each
/// warmed by `warm_up` first, as the table's own quick_cache row.
fn quick_cache_seed_spread(warm_up: &[u64], trace: &[u64], caches: usize) -> Vec<f64> {
    (0..caches)
        .map(|_| {
            let quick = quick_cache::sync::Cache::<u64, u64>::new(ZIPF_CAPACITY);
            let misses = std::cell::Cell::new(0u64);
            let call = |key: u64| {
                let found = quick.get_or_insert_with(&key, || {
                    misses.set(misses.get() + 1);
                    Ok::<_, Infallible>(key)
                });
                black_box(found.unwrap_or_else(|never| match never {}));
            };
            warm_up.iter().for_each(|&key| call(key));
            misses.set(0);
            trace.iter().for_each(|&key| call(key));
            1.0 - misses.get() as f64 / trace.len() as f64
        })
        .collect()
}

/// The exact counts of the run, written as JSON for `scripts/bench`.
#[derive(Default)]
struct Counts {
    json: Vec<String>,
}

impl Counts {
    fn push(&mut self, entry: String) {
        println!("{entry}");
        self.json.push(entry);
    }

    fn write(&self) {
        let Some(path) = std::env::var_os("PEERS_COUNTS") else {
            return;
        };
        let text = format!("[\n{}\n]\n", self.json.join(",\n"));
        std::fs::write(&path, text).expect("write $PEERS_COUNTS");
    }
}

/// The time of `row` as a ratio to `floor`'s, measured interleaved: rounds
/// that alternate `calls` of each, so that both see the same load on a busy
/// machine. The median of the per-round ratios, with the lowest and highest.
fn interleaved(
    rounds: usize,
    calls: usize,
    mut row: impl FnMut(),
    mut floor: impl FnMut(),
) -> (f64, f64, f64) {
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..calls {
                row();
            }
            let row_time = started.elapsed();
            let started = Instant::now();
            for _ in 0..calls {
                floor();
            }
            row_time.as_secs_f64() / started.elapsed().as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    (
        ratios[0],
        ratios[ratios.len() / 2],
        ratios[ratios.len() - 1],
    )
}

impl Counts {
    fn interleaved(&mut self, group: &str, row: &str, (min, median, max): (f64, f64, f64)) {
        self.push(format!(
            r#"  {{"kind": "interleaved", "group": "{group}", "row": "{row}", "min": {min:.4}, "median": {median:.4}, "max": {max:.4}}}"#
        ));
    }
}

fn zipf(c: &mut Criterion, counts: &mut Counts, full: bool) {
    let distribution = zipf::Zipf::new(ZIPF_KEYS, 1.0);
    let warm_up = distribution.trace(zipf_trace_len(full), 1);
    let trace = distribution.trace(zipf_trace_len(full), 2);
    let floor = Floor::new(usize::MAX);
    let moka = moka::sync::Cache::<u64, u64>::new(ZIPF_CAPACITY as u64);
    let quick = quick_cache::sync::Cache::<u64, u64>::new(ZIPF_CAPACITY);
    #[allow(clippy::type_complexity)]
    let rows: Vec<(&str, Box<dyn Fn(u64) -> u64>)> = vec![
        // Unbounded: it never evicts (every key seen stays).
        (
            "floor",
            Box::new(|key| floor.call_with(key, "", || zipf_body(key))),
        ),
        ("cachetool_memory", Box::new(ct_zipf)),
        ("cachetool_memory_lock_false", Box::new(ct_zipf_no_lock)),
        (
            "moka_get_with",
            Box::new(|key| moka.get_with(key, || zipf_body(key))),
        ),
        (
            "quick_cache_get_or_insert_with",
            Box::new(|key| {
                match quick.get_or_insert_with(&key, || Ok::<_, Infallible>(zipf_body(key))) {
                    Ok(value) => value,
                    Err(never) => match never {},
                }
            }),
        ),
    ];
    // Hit ratios, exact: the loads counted over the second trace, after the first
    // has filled each cache.
    for (name, f) in &rows {
        for &key in &warm_up {
            f(key);
        }
        if *name == "moka_get_with" {
            moka.run_pending_tasks();
        }
        let loads = ZIPF_LOADS.load(Relaxed);
        for &key in &trace {
            f(key);
        }
        let misses = ZIPF_LOADS.load(Relaxed) - loads;
        counts.push(format!(
            r#"  {{"kind": "zipf_hit_ratio", "row": "{name}", "requests": {}, "misses": {misses}}}"#,
            trace.len()
        ));
    }
    let spread = quick_cache_seed_spread(&warm_up, &trace, QUICK_CACHE_SEEDS);
    counts.push(format!(
        r#"  {{"kind": "zipf_hit_ratio_seeds", "row": "quick_cache_get_or_insert_with", "ratios": [{}]}}"#,
        spread.iter().map(|ratio| format!("{ratio:.6}")).collect::<Vec<_>>().join(", ")
    ));
    counts.push(format!(
        r#"  {{"kind": "zipf_best", "capacity": {ZIPF_CAPACITY}, "keys": {ZIPF_KEYS}, "top_mass": {:.6}}}"#,
        distribution.top_mass(ZIPF_CAPACITY)
    ));
    let mut group = c.benchmark_group("zipf");
    for (name, f) in &rows {
        let mut i = 0;
        group.bench_function(*name, |bencher| {
            bencher.iter(|| {
                i = (i + 1) % trace.len();
                black_box(f(black_box(trace[i])))
            })
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// Network rows: client and server on one CPU.

/// Pins the calling thread, and the processes it starts while pinned (the
/// Redis and Memcached servers), to its first CPU; dropping it restores the
/// thread's mask. On a 2-core VM an unpinned loopback round trip took either
/// about 10 µs or about 75 µs, from one measurement to the next: pinned, the
/// rows of a group are measured under the same conditions.
struct Pinned {
    #[cfg(target_os = "linux")]
    saved: Option<libc::cpu_set_t>,
}

impl Pinned {
    #[cfg(target_os = "linux")]
    fn to_one_cpu() -> Pinned {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: cpu_set_t is plain data, valid when zeroed; the calls get its size.
        unsafe {
            let mut saved: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, size, &mut saved) != 0 {
                return Pinned { saved: None };
            }
            let first = (0..libc::CPU_SETSIZE as usize).find(|&cpu| libc::CPU_ISSET(cpu, &saved));
            let Some(first) = first else {
                return Pinned { saved: None };
            };
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(first, &mut one);
            if libc::sched_setaffinity(0, size, &one) != 0 {
                return Pinned { saved: None };
            }
            Pinned { saved: Some(saved) }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn to_one_cpu() -> Pinned {
        Pinned {}
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(saved) = &self.saved {
            // SAFETY: restores the mask read by sched_getaffinity.
            unsafe {
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), saved);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Redis: the same server, cachetool against the plain client and `cached`.

static REDIS: LazyLock<Server> = LazyLock::new(|| Server::start(Kind::Redis));

static REDIS_CACHE: LazyLock<Cache> = LazyLock::new(|| {
    Cache::builder()
        .redis(&REDIS.url())
        .unwrap()
        .prefix("peers")
        .build()
        .unwrap()
});

#[cached(cache = REDIS_CACHE, tags = ["alpha", format!("user:{a}")])]
fn ct_redis_two_tags(a: u64, b: &str) -> u64 {
    compute(a, b)
}

#[cached(cache = REDIS_CACHE)]
fn ct_redis_miss(a: u64, b: &str) -> u64 {
    compute(a, b)
}

mod peer_redis {
    use cached::proc_macro::concurrent_cached;
    use cached::{RedisCache, RedisCacheError};

    fn store() -> RedisCache<String, u64> {
        RedisCache::builder("peers-cached")
            .connection_string(&super::REDIS.url())
            .build()
            .expect("cached's RedisCache")
    }

    /// `cached`'s Redis store: `GET` through an r2d2 pool, MessagePack values.
    #[concurrent_cached(
        ty = "RedisCache<String, u64>",
        create = { store() },
        convert = { format!("{a}:{b}") },
        map_error = |error: RedisCacheError| error
    )]
    pub(crate) fn get(a: u64, b: &str) -> Result<u64, RedisCacheError> {
        Ok(super::compute(a, b))
    }
}

fn redis_rows(c: &mut Criterion, counts: &mut Counts, full: bool) {
    let url = REDIS.url();
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(1))
        .unwrap();
    for a in 0..HOT_KEYS {
        ct_redis_two_tags(a, SHORT);
        peer_redis::get(a, SHORT).unwrap();
    }
    let stats = REDIS_CACHE.stats();
    // The floor reads a value of the size of an entry's.
    let _: () = redis::cmd("SET")
        .arg("plain")
        .arg(&[b'v'; 32][..])
        .query(&mut conn)
        .unwrap();

    let mut group = c.benchmark_group("redis_hit");
    group.bench_function("floor", |bencher| {
        bencher.iter(|| {
            let value: Vec<u8> = redis::cmd("GET").arg("plain").query(&mut conn).unwrap();
            black_box(value)
        })
    });
    let mut a = 0;
    group.bench_function("cachetool_two_tags", |bencher| {
        bencher.iter(|| {
            a = (a + 1) % HOT_KEYS;
            black_box(ct_redis_two_tags(black_box(a), SHORT))
        })
    });
    group.bench_function("cached_redis_cache", |bencher| {
        bencher.iter(|| {
            a = (a + 1) % HOT_KEYS;
            black_box(peer_redis::get(black_box(a), SHORT).unwrap())
        })
    });
    group.finish();
    let rounds = if full { 21 } else { 1 };
    let mut floor = || {
        let value: Vec<u8> = redis::cmd("GET").arg("plain").query(&mut conn).unwrap();
        black_box(value);
    };
    let ratio = interleaved(
        rounds,
        200,
        || {
            a = (a + 1) % HOT_KEYS;
            black_box(ct_redis_two_tags(black_box(a), SHORT));
        },
        &mut floor,
    );
    counts.interleaved("redis_hit", "cachetool_two_tags", ratio);
    let ratio = interleaved(
        rounds,
        200,
        || {
            a = (a + 1) % HOT_KEYS;
            black_box(peer_redis::get(black_box(a), SHORT).unwrap());
        },
        &mut floor,
    );
    counts.interleaved("redis_hit", "cached_redis_cache", ratio);
    let after = REDIS_CACHE.stats();
    assert_eq!(after.loads, stats.loads, "the cachetool rows were all hits");

    let mut group = c.benchmark_group("redis_miss");
    let mut next = 1u64 << 40;
    group.bench_function("floor", |bencher| {
        bencher.iter(|| {
            next += 1;
            let key = format!("plain:{next}");
            let value: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
            assert!(value.is_none());
            let _: () = redis::cmd("SET")
                .arg(&key)
                .arg(&[b'v'; 32][..])
                .query(&mut conn)
                .unwrap();
        })
    });
    group.bench_function("cachetool_untagged", |bencher| {
        bencher.iter(|| {
            next += 1;
            black_box(ct_redis_miss(black_box(next), SHORT))
        })
    });
    group.bench_function("cached_redis_cache", |bencher| {
        bencher.iter(|| {
            next += 1;
            black_box(peer_redis::get(black_box(next), SHORT).unwrap())
        })
    });
    group.finish();
    assert_eq!(REDIS_CACHE.stats().errors, 0);
}

// ---------------------------------------------------------------------------
// Memcached: cachetool against a raw socket and the memcache crate.

#[cfg(feature = "memcached")]
mod memcached_rows {
    use std::hint::black_box;
    use std::sync::LazyLock;

    use cachetool::{cached, Cache};
    use cachetool_test_harness::memcached::RawConnection;
    use criterion::Criterion;

    use super::{compute, interleaved, Counts, Kind, Server, HOT_KEYS, SHORT};

    static MEMCACHED: LazyLock<Server> = LazyLock::new(|| Server::start(Kind::Memcached));

    static MEMCACHED_CACHE: LazyLock<Cache> = LazyLock::new(|| {
        Cache::builder()
            .memcached(&MEMCACHED.url())
            .unwrap()
            .prefix("peers")
            .build()
            .unwrap()
    });

    #[cached(cache = MEMCACHED_CACHE)]
    fn ct_untagged(a: u64, b: &str) -> u64 {
        compute(a, b)
    }

    #[cached(cache = MEMCACHED_CACHE, tags = ["alpha", format!("user:{a}")])]
    fn ct_two_tags(a: u64, b: &str) -> u64 {
        compute(a, b)
    }

    pub(super) fn rows(c: &mut Criterion, counts: &mut Counts, full: bool) {
        for a in 0..HOT_KEYS {
            ct_untagged(a, SHORT);
            ct_two_tags(a, SHORT);
        }
        let stats = MEMCACHED_CACHE.stats();
        let mut raw = RawConnection::connect(&MEMCACHED.address());
        raw.request(b"set plain 0 0 32\r\nvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\r\n");
        let client = memcache::Client::connect(MEMCACHED.url()).unwrap();
        let check: Option<Vec<u8>> = client.get("plain").unwrap();
        assert_eq!(check.map(|value| value.len()), Some(32));

        let mut group = c.benchmark_group("memcached_hit");
        group.bench_function("floor", |bencher| {
            bencher.iter(|| black_box(raw.request(b"get plain\r\n")))
        });
        let mut a = 0;
        group.bench_function("cachetool_untagged", |bencher| {
            bencher.iter(|| {
                a = (a + 1) % HOT_KEYS;
                black_box(ct_untagged(black_box(a), SHORT))
            })
        });
        group.bench_function("cachetool_two_tags", |bencher| {
            bencher.iter(|| {
                a = (a + 1) % HOT_KEYS;
                black_box(ct_two_tags(black_box(a), SHORT))
            })
        });
        group.bench_function("memcache_crate_get", |bencher| {
            bencher.iter(|| {
                let value: Option<Vec<u8>> = client.get("plain").unwrap();
                black_box(value)
            })
        });
        group.finish();
        let rounds = if full { 21 } else { 1 };
        let mut floor = || {
            black_box(raw.request(b"get plain\r\n"));
        };
        let ratio = interleaved(
            rounds,
            200,
            || {
                a = (a + 1) % HOT_KEYS;
                black_box(ct_untagged(black_box(a), SHORT));
            },
            &mut floor,
        );
        counts.interleaved("memcached_hit", "cachetool_untagged", ratio);
        let ratio = interleaved(
            rounds,
            200,
            || {
                a = (a + 1) % HOT_KEYS;
                black_box(ct_two_tags(black_box(a), SHORT));
            },
            &mut floor,
        );
        counts.interleaved("memcached_hit", "cachetool_two_tags", ratio);
        let ratio = interleaved(
            rounds,
            200,
            || {
                let value: Option<Vec<u8>> = client.get("plain").unwrap();
                black_box(value);
            },
            &mut floor,
        );
        counts.interleaved("memcached_hit", "memcache_crate_get", ratio);
        let after = MEMCACHED_CACHE.stats();
        assert_eq!(after.loads, stats.loads, "the cachetool rows were all hits");
        assert_eq!(after.errors, 0);
    }
}

// ---------------------------------------------------------------------------
// The stampede: 32 threads miss one cold key at once; its body sleeps 50 ms.

const STAMPEDE_THREADS: usize = 32;
/// Rounds of each row, each on a new key (one under `cargo test`).
const STAMPEDE_ROUNDS: u64 = 3;
const STAMPEDE_SLEEP: Duration = Duration::from_millis(50);

static STAMPEDE_BODIES: AtomicU64 = AtomicU64::new(0);

fn stampede_body(key: u64) -> u64 {
    STAMPEDE_BODIES.fetch_add(1, Relaxed);
    std::thread::sleep(STAMPEDE_SLEEP);
    key
}

static STAMPEDE_CACHE: LazyLock<Cache> = LazyLock::new(Cache::memory);

#[cached(cache = STAMPEDE_CACHE)]
fn ct_stampede(key: u64) -> u64 {
    stampede_body(key)
}

/// Runs `f(key)` on every thread at once; the bodies run and the wall time.
fn stampede_round(f: &(dyn Fn(u64) -> u64 + Sync), key: u64) -> (u64, Duration) {
    let before = STAMPEDE_BODIES.load(Relaxed);
    let barrier = Barrier::new(STAMPEDE_THREADS + 1);
    let elapsed = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..STAMPEDE_THREADS)
            .map(|_| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    assert_eq!(f(key), key);
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        for thread in threads {
            thread.join().unwrap();
        }
        started.elapsed()
    });
    (STAMPEDE_BODIES.load(Relaxed) - before, elapsed)
}

fn stampede(counts: &mut Counts, full: bool) {
    let rounds = if full { STAMPEDE_ROUNDS } else { 1 };
    let moka = moka::sync::Cache::<u64, u64>::new(1000);
    let quick = quick_cache::sync::Cache::<u64, u64>::new(1000);
    #[allow(clippy::type_complexity)]
    let rows: Vec<(&str, Box<dyn Fn(u64) -> u64 + Sync>)> = vec![
        ("cachetool", Box::new(ct_stampede)),
        ("cached_default", Box::new(peer::stampede)),
        (
            "moka_get_with",
            Box::new(|key| moka.get_with(key, || stampede_body(key))),
        ),
        (
            "quick_cache_get_or_insert_with",
            Box::new(|key| {
                match quick.get_or_insert_with(&key, || Ok::<_, Infallible>(stampede_body(key))) {
                    Ok(value) => value,
                    Err(never) => match never {},
                }
            }),
        ),
    ];
    for (name, f) in &rows {
        let mut bodies = String::new();
        let mut walls = String::new();
        for round in 0..rounds {
            let (ran, wall) = stampede_round(f.as_ref(), 1000 + round);
            let separator = if round == 0 { "" } else { ", " };
            let _ = write!(bodies, "{separator}{ran}");
            let _ = write!(walls, "{separator}{:.6}", wall.as_secs_f64());
        }
        counts.push(format!(
            r#"  {{"kind": "stampede", "row": "{name}", "threads": {STAMPEDE_THREADS}, "sleep_s": {:.3}, "bodies": [{bodies}], "wall_s": [{walls}]}}"#,
            STAMPEDE_SLEEP.as_secs_f64()
        ));
    }
}

/// Criterion's filter argument, if any: the first argument that is neither an
/// option nor an option's value.
fn filter() -> Option<String> {
    const WITH_VALUE: &[&str] = &[
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--profile-time",
        "--save-baseline",
        "-s",
        "--baseline",
        "-b",
        "--baseline-lenient",
        "--load-baseline",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--nresamples",
        "--output-format",
        "--color",
        "-c",
        "--plotting-backend",
        "--format",
    ];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if WITH_VALUE.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            return Some(arg);
        }
    }
    None
}

fn main() {
    // The second process of the invalidation delay's measurement, if this is it.
    #[cfg(target_os = "linux")]
    invalidation_delay::run_child_if_asked();
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs each
    // benchmark once, and the counted workloads on short inputs.
    let full = std::env::args().any(|arg| arg == "--bench");
    // `cargo bench --bench peers -- hit_1t` runs that group only (its set-up too).
    let filter = filter();
    let selected = |group: &str| {
        filter
            .as_deref()
            .is_none_or(|filter| group.contains(filter) || filter.starts_with(group))
    };
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
        .configure_from_args();
    let mut counts = Counts::default();
    let contenders = Contenders::new();
    if selected("hit_1t") {
        hits(&mut c, &mut counts, &contenders, "hit_1t", SHORT, full);
    }
    if selected("hit_1t_40b") {
        hits(&mut c, &mut counts, &contenders, "hit_1t_40b", LONG, full);
    }
    if selected("hit_2t") {
        hits_two_threads(&mut c, &contenders);
    }
    if selected("miss") {
        misses(&mut c);
    }
    if selected("zipf") {
        zipf(&mut c, &mut counts, full);
    }
    let pinned = Pinned::to_one_cpu();
    if selected("redis_hit") || selected("redis_miss") {
        redis_rows(&mut c, &mut counts, full);
    }
    #[cfg(feature = "memcached")]
    if selected("memcached_hit") {
        memcached_rows::rows(&mut c, &mut counts, full);
    }
    if selected("two_level_hit") {
        two_level::rows(&mut c, &mut counts, full);
    }
    drop(pinned);
    if selected("stampede") {
        stampede(&mut counts, full);
    }
    // Two processes, neither pinned, on a redis-server of its own (last: its
    // cache's subscriber thread keeps reconnecting once that server stopped).
    #[cfg(target_os = "linux")]
    if selected("two_level_invalidation") {
        invalidation_delay::measure(&mut counts, full);
    }
    counts.write();
    c.final_summary();
}
