//! The hit path and the miss path of `#[cached]` on the in-memory backend.
//! `cargo bench --bench hit_path`
#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::LazyLock;

use cachetool::{cached, Cache};
use criterion::{criterion_group, criterion_main, Criterion};

static CACHE: LazyLock<Cache> =
    LazyLock::new(|| Cache::builder().capacity(1_000_000).build().unwrap());

#[cached(cache = CACHE)]
fn untagged(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

#[cached(cache = CACHE, tags = ["alpha", "beta"])]
fn two_tags(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

static NEXT: AtomicU64 = AtomicU64::new(0);

#[cached(cache = CACHE)]
fn always_new(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

fn hits(c: &mut Criterion) {
    const HOT_KEYS: u64 = 1000;
    for a in 0..HOT_KEYS {
        untagged(a, "hello");
        two_tags(a, "hello");
    }
    let mut a = 0;
    c.bench_function("hit/untagged (u64, &str)", |b| {
        b.iter(|| {
            a = (a + 1) % HOT_KEYS;
            black_box(untagged(black_box(a), black_box("hello")))
        })
    });
    c.bench_function("hit/two tags (u64, &str)", |b| {
        b.iter(|| {
            a = (a + 1) % HOT_KEYS;
            black_box(two_tags(black_box(a), black_box("hello")))
        })
    });
    c.bench_function("miss/untagged: compute and store", |b| {
        b.iter(|| black_box(always_new(NEXT.fetch_add(1, Relaxed), black_box("hello"))))
    });
}

criterion_group!(benches, hits);
criterion_main!(benches);
