// `ttl` as whole seconds and as a `Duration` expression, with literal tags.
// The short TTLs are checked without racing the clock: "still alive" only
// when the second call came in time, "expired" after waiting past the TTL.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cachetool::cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 600, tags = ["math", "power"])]
fn power(a: u64, b: u32) -> u64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    a.pow(b)
}

const SHORT: Duration = Duration::from_millis(50);

#[cached(tags = ["math"], ttl = Duration::from_millis(1500))]
fn double(a: u64) -> u64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    a * 2
}

#[cached(ttl = SHORT)]
fn triple(a: u64) -> u64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    a * 3
}

fn main() {
    assert_eq!(power(2, 10), 1024);
    assert_eq!(power(2, 10), 1024);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(double(4), 8);
    let stored = Instant::now();
    assert_eq!(double(4), 8);
    if stored.elapsed() < Duration::from_millis(1500) {
        assert_eq!(CALLS.load(Ordering::SeqCst), 2, "a hit within its ttl");
    }
    CALLS.store(2, Ordering::SeqCst);

    // Cleaning a tag drops every entry that carries it.
    cachetool::global().clean(&["math"]).unwrap();
    assert_eq!(power(2, 10), 1024);
    assert_eq!(double(4), 8);
    assert_eq!(CALLS.load(Ordering::SeqCst), 4);

    assert_eq!(triple(1), 3);
    let stored = Instant::now();
    assert_eq!(triple(1), 3);
    if stored.elapsed() < SHORT {
        assert_eq!(CALLS.load(Ordering::SeqCst), 5, "a hit within its ttl");
    }
    std::thread::sleep(SHORT);
    let before = CALLS.load(Ordering::SeqCst);
    assert_eq!(triple(1), 3);
    assert_eq!(CALLS.load(Ordering::SeqCst), before + 1, "expired after its ttl");

    power_invalidate(2, 10).unwrap();
    assert_eq!(power_refresh(2, 10), 1024);
    double_invalidate(4).unwrap();
    assert_eq!(double_refresh(4), 8);
    triple_invalidate(1).unwrap();
    assert_eq!(triple_refresh(1), 3);
}
