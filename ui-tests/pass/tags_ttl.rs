// `ttl` as whole seconds and as a `Duration` expression, with literal tags.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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
    assert_eq!(double(4), 8);
    assert_eq!(double(4), 8);
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);

    // Cleaning a tag drops every entry that carries it.
    cachetool::global().clean(&["math"]).unwrap();
    assert_eq!(power(2, 10), 1024);
    assert_eq!(double(4), 8);
    assert_eq!(CALLS.load(Ordering::SeqCst), 4);

    assert_eq!(triple(1), 3);
    assert_eq!(triple(1), 3);
    assert_eq!(CALLS.load(Ordering::SeqCst), 5);
    std::thread::sleep(SHORT * 3);
    assert_eq!(triple(1), 3);
    assert_eq!(CALLS.load(Ordering::SeqCst), 6);

    power_invalidate(2, 10).unwrap();
    assert_eq!(power_refresh(2, 10), 1024);
    double_invalidate(4).unwrap();
    assert_eq!(double_refresh(4), 8);
    triple_invalidate(1).unwrap();
    assert_eq!(triple_refresh(1), 3);
}
