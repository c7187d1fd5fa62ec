//! A tagged `#[cached]` hit on Redis (one MGET of entry, epoch and 2 tags,
//! decoded in the client) against a plain redis-crate GET of a value of the
//! same size, on the same redis-server in the same run.
//! `cargo bench --bench redis_hit --features redis` (starts its own redis-server on a free port).
// Criterion's macros make undocumented functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::LazyLock;
use std::time::Duration;

use cachetool::{cached, Cache};
use cachetool_test_harness::{Kind, Server};
use criterion::{criterion_group, criterion_main, Criterion};

static SERVER: LazyLock<Server> = LazyLock::new(|| Server::start(Kind::Redis));

static CACHE: LazyLock<Cache> = LazyLock::new(|| {
    Cache::builder()
        .redis(&SERVER.url())
        .unwrap()
        .prefix("bench")
        .build()
        .unwrap()
});

#[cached(cache = CACHE, tags = ["alpha", format!("user:{a}")])]
fn two_tags(a: u64, b: &str) -> String {
    format!("{a}:{b}")
}

fn hit_vs_get(c: &mut Criterion) {
    const HOT_KEYS: u64 = 100;
    for a in 0..HOT_KEYS {
        two_tags(a, "hello");
    }
    let stats = CACHE.stats();
    // The plain client, and a plain value of the same size as an entry.
    let mut conn = redis::Client::open(SERVER.url())
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(1))
        .unwrap();
    let mut group = c.benchmark_group("redis");
    let mut a = 0;
    group.bench_function("cachetool hit, 2 tags", |b| {
        b.iter(|| {
            a = (a + 1) % HOT_KEYS;
            black_box(two_tags(black_box(a), "hello"))
        })
    });
    let value = vec![b'v'; 60];
    let _: () = redis::cmd("SET")
        .arg("plain")
        .arg(&value)
        .query(&mut conn)
        .unwrap();
    group.bench_function("redis-crate GET", |b| {
        b.iter(|| {
            let value: Vec<u8> = redis::cmd("GET").arg("plain").query(&mut conn).unwrap();
            black_box(value)
        })
    });
    // The same read as the hit, by hand: MGET of a 60-byte value and 3 short ones.
    for key in ["m1", "m2", "m3"] {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg("12345678901234567890")
            .query(&mut conn)
            .unwrap();
    }
    group.bench_function("redis-crate MGET of 4 keys", |b| {
        b.iter(|| {
            let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                .arg("plain")
                .arg("m1")
                .arg("m2")
                .arg("m3")
                .query(&mut conn)
                .unwrap();
            black_box(values)
        })
    });
    group.finish();

    // The ratio, measured interleaved (the machine may be busy: alternating
    // rounds see the same load), as the median of per-round ratios.
    let mut ratios = Vec::new();
    for _ in 0..31 {
        let started = std::time::Instant::now();
        for i in 0..500 {
            black_box(two_tags(i % HOT_KEYS, "hello"));
        }
        let hit = started.elapsed();
        let started = std::time::Instant::now();
        for _ in 0..500 {
            let value: Vec<u8> = redis::cmd("GET").arg("plain").query(&mut conn).unwrap();
            black_box(value);
        }
        let get = started.elapsed();
        ratios.push(hit.as_secs_f64() / get.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "cachetool hit / redis-crate GET, interleaved: median {:.2}x (min {:.2}x, max {:.2}x)",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    );
    let after = CACHE.stats();
    assert_eq!(
        after.loads, stats.loads,
        "the cachetool calls were all hits"
    );
    assert_eq!(after.errors, 0);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = hit_vs_get
}
criterion_main!(benches);
