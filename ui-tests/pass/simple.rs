// The plainest use: a free function, its key is the hash of both arguments.
use std::sync::atomic::{AtomicUsize, Ordering};

use cachetool::cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn simple(a: &str, b: &str) -> String {
    CALLS.fetch_add(1, Ordering::SeqCst);
    format!("{a}{b}")
}

fn main() {
    assert_eq!(simple("a", "b"), "ab");
    assert_eq!(simple("a", "b"), "ab");
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(simple("a", "c"), "ac");
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);

    simple_invalidate("a", "b").unwrap();
    assert_eq!(simple("a", "b"), "ab");
    assert_eq!(CALLS.load(Ordering::SeqCst), 3);

    assert_eq!(simple_refresh("a", "b"), "ab");
    assert_eq!(CALLS.load(Ordering::SeqCst), 4);
    assert_eq!(simple("a", "b"), "ab");
    assert_eq!(CALLS.load(Ordering::SeqCst), 4);
}
