use cachetool::{cached, Cache};
use std::sync::LazyLock;
static CACHE: LazyLock<Cache> =
    LazyLock::new(|| Cache::builder().capacity(1_000_000).build().unwrap());
static MISS: LazyLock<Cache> =
    LazyLock::new(|| Cache::builder().capacity(100_000).build().unwrap());
#[cached(cache = CACHE)]
fn ct_untagged(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}
#[cached(cache = CACHE, ttl = 600)]
fn ct_ttl(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}
#[cached(cache = MISS)]
fn ct_miss(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}
fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let mut sum = 0;
    match which.as_str() {
        "ttl" => {
            for a in 0..1000 {
                ct_ttl(a, "hello");
            }
            for i in 0..200_000u64 {
                sum += ct_ttl(i % 1000, std::hint::black_box("hello"));
            }
        }
        "miss" => {
            for i in 0..200_000u64 {
                sum += ct_miss(i, std::hint::black_box("hello"));
            }
        }
        _ => {
            for a in 0..1000 {
                ct_untagged(a, "hello");
            }
            for i in 0..200_000u64 {
                sum += ct_untagged(i % 1000, std::hint::black_box("hello"));
            }
        }
    }
    println!("{sum}");
}
