// `name`, `version` and `lock`.
use std::sync::atomic::{AtomicUsize, Ordering};

use cachetool::cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[cached(name = "users.load", version = 2, lock = false)]
fn load(id: u64) -> u64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    id
}

#[cached(version = 1, lock = true)]
fn versioned(id: u64) -> u64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    id
}

fn main() {
    assert_eq!(load(1), 1);
    assert_eq!(load(1), 1);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    load_invalidate(1).unwrap();
    assert_eq!(load(1), 1);
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    assert_eq!(load_refresh(1), 1);

    assert_eq!(versioned(1), 1);
    assert_eq!(versioned(1), 1);
    versioned_invalidate(1).unwrap();
    assert_eq!(versioned_refresh(1), 1);
    assert_eq!(CALLS.load(Ordering::SeqCst), 5);
}
