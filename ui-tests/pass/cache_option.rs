// `cache = ...`: a static `LazyLock<Cache>`, a function returning `&Cache`, a
// function returning an owned `Cache` (a clone: clones share everything), a field.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

use cachetool::{cached, Cache};

static CALLS: AtomicUsize = AtomicUsize::new(0);

static MY_CACHE: LazyLock<Cache> = LazyLock::new(Cache::memory);

fn other_cache() -> &'static Cache {
    static OTHER: LazyLock<Cache> = LazyLock::new(Cache::memory);
    &OTHER
}

#[cached(cache = MY_CACHE, tags = ["t"])]
fn in_static(a: u32) -> u32 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    a + 1
}

#[cached(cache = other_cache(), tags = ["t"])]
fn in_fn(a: u32) -> u32 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    a + 2
}

fn owned_cache() -> Cache {
    other_cache().clone()
}

#[cached(cache = owned_cache(), tags = ["t"])]
fn in_owned(a: u32) -> u32 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    a + 4
}

struct Service {
    cache: Cache,
}

impl Service {
    #[cached(cache = self.cache)]
    fn get(&self, a: u32) -> u32 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        a + 3
    }
}

fn main() {
    assert_eq!(in_static(1), 2);
    assert_eq!(in_static(1), 2);
    assert_eq!(in_fn(1), 3);
    assert_eq!(in_fn(1), 3);
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);

    // Each function used its own cache, not the global one.
    cachetool::global().clean(&["t"]).unwrap();
    other_cache().clean(&["t"]).unwrap();
    assert_eq!(in_static(1), 2);
    assert_eq!(in_fn(1), 3);
    assert_eq!(CALLS.load(Ordering::SeqCst), 3);

    let service = Service {
        cache: Cache::memory(),
    };
    assert_eq!(service.get(1), 4);
    assert_eq!(service.get(1), 4);
    assert_eq!(CALLS.load(Ordering::SeqCst), 4);
    service.get_invalidate(1).unwrap();
    assert_eq!(service.get_refresh(1), 4);
    assert_eq!(CALLS.load(Ordering::SeqCst), 5);

    in_static_invalidate(1).unwrap();
    assert_eq!(in_static_refresh(1), 2);
    in_fn_invalidate(1).unwrap();
    assert_eq!(in_fn_refresh(1), 3);

    // An owned cache, made for each call: a clone of other_cache(), so the
    // second call is a hit.
    let before = CALLS.load(Ordering::SeqCst);
    assert_eq!(in_owned(1), 5);
    assert_eq!(in_owned(1), 5);
    assert_eq!(CALLS.load(Ordering::SeqCst), before + 1);
    in_owned_invalidate(1).unwrap();
    assert_eq!(in_owned_refresh(1), 5);
}
