// Methods: `&self`, `self` by value, `self: Arc<Self>`; the receiver is never
// part of the key, and the companions always take `&self`.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cachetool::cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone, Copy)]
struct Repo {
    base: u64,
}

impl Repo {
    #[cached(tags = ["repo"])]
    fn get(&self, id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        self.base + id
    }

    #[cached]
    fn by_value(self, id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        self.base * id
    }

    #[cached]
    fn in_arc(self: Arc<Self>, id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        self.base - id
    }

    // An associated function without a receiver.
    #[cached]
    fn make(base: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        base
    }

    // `key` may use the receiver.
    #[cached(key = format!("{}:{id}", self.base))]
    fn keyed(&self, id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        self.base + id
    }
}

fn main() {
    let repo = Repo { base: 100 };
    assert_eq!(repo.get(1), 101);
    // Another receiver, same key.
    assert_eq!(Repo { base: 0 }.get(1), 101);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    repo.get_invalidate(1).unwrap();
    assert_eq!(repo.get_refresh(1), 101);
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);

    assert_eq!(repo.by_value(2), 200);
    assert_eq!(repo.by_value(2), 200);
    assert_eq!(CALLS.load(Ordering::SeqCst), 3);
    repo.by_value_invalidate(2).unwrap();
    assert_eq!(repo.by_value_refresh(2), 200);

    let shared = Arc::new(repo);
    assert_eq!(shared.clone().in_arc(1), 99);
    assert_eq!(shared.clone().in_arc(1), 99);
    shared.in_arc_invalidate(1).unwrap();
    assert_eq!(shared.in_arc_refresh(1), 99);

    assert_eq!(Repo::make(5), 5);
    Repo::make_invalidate(5).unwrap();
    assert_eq!(Repo::make_refresh(5), 5);

    assert_eq!(repo.keyed(1), 101);
    assert_eq!(Repo { base: 1 }.keyed(1), 2);
    repo.keyed_invalidate(1).unwrap();
    assert_eq!(repo.keyed_refresh(1), 101);
}
