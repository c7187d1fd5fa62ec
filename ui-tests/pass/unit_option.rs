// Functions returning `()` (no `->`) and `Option<T>`, cached like any value.
use std::sync::atomic::{AtomicUsize, Ordering};

use cachetool::cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn warm(id: u32) {
    CALLS.fetch_add(1, Ordering::SeqCst);
    let _ = id;
}

#[cached]
fn explicit_unit() -> () {
    CALLS.fetch_add(1, Ordering::SeqCst);
}

#[cached]
fn find(id: u32) -> Option<String> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    (id % 2 == 0).then(|| id.to_string())
}

fn main() {
    warm(1);
    warm(1);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    warm_invalidate(1).unwrap();
    warm_refresh(1);
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);

    explicit_unit();
    explicit_unit();
    explicit_unit_invalidate().unwrap();
    explicit_unit_refresh();
    assert_eq!(CALLS.load(Ordering::SeqCst), 4);

    assert_eq!(find(2).as_deref(), Some("2"));
    // `None` is a value like any other: it is cached too.
    assert_eq!(find(3), None);
    assert_eq!(find(3), None);
    assert_eq!(CALLS.load(Ordering::SeqCst), 6);
    find_invalidate(3).unwrap();
    assert_eq!(find_refresh(2).as_deref(), Some("2"));
}
