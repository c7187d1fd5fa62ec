//! A `#[cached]` hit on Memcached against the floor, a raw `TcpStream`
//! speaking the text protocol (`get` of a 100-byte value), and against the
//! memcache crate's clients reading the same value: its default client
//! (binary protocol, r2d2 pool), its ASCII client, and its experimental meta
//! client. Same memcached, same run.
//! `cargo bench --bench memcached_hit --features memcached` (starts its own memcached on a free port).

// `criterion_main!` writes an undocumented `main`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use cachetool::{cached, Backend, Cache, ConnectOptions, MemcachedBackend};
use cachetool_test_harness::memcached::RawConnection;
use cachetool_test_harness::{Kind, Server};
use criterion::{criterion_group, criterion_main, Criterion};

static SERVER: LazyLock<Server> = LazyLock::new(|| Server::start(Kind::Memcached));

static CACHE: LazyLock<Cache> = LazyLock::new(|| {
    Cache::builder()
        .memcached(&SERVER.url())
        .unwrap()
        .prefix("bench")
        .build()
        .unwrap()
});

const HOT_KEYS: u64 = 100;

/// About 100 bytes of value.
fn value_of(a: u64) -> String {
    format!("{a:>6}{}", "v".repeat(88))
}

#[cached(cache = CACHE, name = "untagged")]
fn untagged(a: u64) -> String {
    value_of(a)
}

#[cached(cache = CACHE, name = "tagged", tags = ["alpha", format!("user:{a}")])]
fn two_tags(a: u64) -> String {
    value_of(a)
}

fn interleaved_ratio(
    rounds: usize,
    mut hit: impl FnMut(),
    mut floor: impl FnMut(),
) -> (f64, f64, f64) {
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..500 {
            hit();
        }
        let hit_time = started.elapsed();
        let started = Instant::now();
        for _ in 0..500 {
            floor();
        }
        ratios.push(hit_time.as_secs_f64() / started.elapsed().as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    (
        ratios[0],
        ratios[ratios.len() / 2],
        ratios[ratios.len() - 1],
    )
}

fn hit_vs_floor(c: &mut Criterion) {
    for a in 0..HOT_KEYS {
        untagged(a);
        two_tags(a);
    }
    let stats = CACHE.stats();
    let address = SERVER.address();
    let mut raw = RawConnection::connect(&address);
    let plain = value_of(1).into_bytes();
    let mut set = format!("set plain 0 0 {}\r\n", plain.len()).into_bytes();
    set.extend_from_slice(&plain);
    set.extend_from_slice(b"\r\n");
    raw.request(&set);

    // What a 2-tag hit reads, by hand: the value and 3 short ones in one `gets`.
    for key in ["m1", "m2", "m3"] {
        raw.request(format!("set {key} 0 0 20\r\n12345678901234567890\r\n").as_bytes());
    }

    let binary = memcache::Client::connect(SERVER.url()).unwrap();
    let ascii = memcache::Client::connect(format!("{}?protocol=ascii", SERVER.url())).unwrap();
    let meta = memcache::exp::MetaClient::connect(address.as_str()).unwrap();
    let check: Option<Vec<u8>> = binary.get("plain").unwrap();
    assert_eq!(check.as_deref(), Some(&plain[..]));

    let mut group = c.benchmark_group("memcached");
    let mut a = 0;
    group.bench_function("raw TcpStream get (floor)", |b| {
        b.iter(|| black_box(raw.request(b"get plain\r\n")))
    });
    group.bench_function("raw TcpStream gets of 4 keys", |b| {
        b.iter(|| black_box(raw.request(b"gets plain m1 m2 m3\r\n")))
    });
    // The backend alone: the same 4-key read through `Backend::get_many`.
    let backend = MemcachedBackend::open(&SERVER.url(), &ConnectOptions::default()).unwrap();
    group.bench_function("MemcachedBackend::get_many of 4 keys", |b| {
        b.iter(|| black_box(backend.get_many(&["plain", "m1", "m2", "m3"]).unwrap()))
    });
    group.bench_function("cachetool hit, untagged (entry + epoch)", |b| {
        b.iter(|| {
            a = (a + 1) % HOT_KEYS;
            black_box(untagged(black_box(a)))
        })
    });
    group.bench_function("cachetool hit, 2 tags (4 keys)", |b| {
        b.iter(|| {
            a = (a + 1) % HOT_KEYS;
            black_box(two_tags(black_box(a)))
        })
    });
    group.bench_function("memcache crate, default client (binary)", |b| {
        b.iter(|| {
            let value: Option<Vec<u8>> = binary.get("plain").unwrap();
            black_box(value)
        })
    });
    group.bench_function("memcache crate, ASCII client", |b| {
        b.iter(|| {
            let value: Option<Vec<u8>> = ascii.get("plain").unwrap();
            black_box(value)
        })
    });
    group.bench_function("memcache crate, exp meta client", |b| {
        b.iter(|| black_box(meta.get("plain").send().unwrap().value))
    });
    group.finish();

    // Ratios to the floor, measured interleaved (the machine may be busy:
    // alternating rounds see the same load), as the median of per-round ratios.
    let mut raw_floor = RawConnection::connect(&address);
    let mut floor = || {
        black_box(raw_floor.request(b"get plain\r\n"));
    };
    let mut n = 0;
    let report = |name: &str, (min, median, max): (f64, f64, f64)| {
        println!("{name}, interleaved: median {median:.2}x (min {min:.2}x, max {max:.2}x)");
    };
    report(
        "cachetool hit, untagged / raw get",
        interleaved_ratio(
            15,
            || {
                n = (n + 1) % HOT_KEYS;
                black_box(untagged(n));
            },
            &mut floor,
        ),
    );
    report(
        "cachetool hit, 2 tags / raw get",
        interleaved_ratio(
            15,
            || {
                n = (n + 1) % HOT_KEYS;
                black_box(two_tags(n));
            },
            &mut floor,
        ),
    );
    let mut raw_four = RawConnection::connect(&address);
    report(
        "raw gets of 4 keys / raw get",
        interleaved_ratio(
            15,
            || {
                black_box(raw_four.request(b"gets plain m1 m2 m3\r\n"));
            },
            &mut floor,
        ),
    );
    report(
        "memcache default client get / raw get",
        interleaved_ratio(
            5,
            || {
                let value: Option<Vec<u8>> = binary.get("plain").unwrap();
                black_box(value);
            },
            &mut floor,
        ),
    );
    report(
        "memcache ASCII client get / raw get",
        interleaved_ratio(
            5,
            || {
                let value: Option<Vec<u8>> = ascii.get("plain").unwrap();
                black_box(value);
            },
            &mut floor,
        ),
    );
    report(
        "memcache exp meta client get / raw get",
        interleaved_ratio(
            15,
            || {
                black_box(meta.get("plain").send().unwrap().value);
            },
            &mut floor,
        ),
    );
    let mut four = || {
        black_box(raw_four.request(b"gets plain m1 m2 m3\r\n"));
    };
    report(
        "MemcachedBackend::get_many of 4 keys / raw gets of 4 keys",
        interleaved_ratio(
            15,
            || {
                black_box(backend.get_many(&["plain", "m1", "m2", "m3"]).unwrap());
            },
            &mut four,
        ),
    );
    report(
        "cachetool hit, 2 tags / raw gets of 4 keys",
        interleaved_ratio(
            15,
            || {
                n = (n + 1) % HOT_KEYS;
                black_box(two_tags(n));
            },
            &mut four,
        ),
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
    targets = hit_vs_floor
}
criterion_main!(benches);
