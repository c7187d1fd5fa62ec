//! In memory, a full cache may evict the tombstone that `foo_invalidate`
//! leaves (a new key must earn its place). A computation the invalidation
//! overtook must still not store its value (see `invalidations.rs`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Barrier, LazyLock};

use cachetool::{cached, Cache};

static SMALL: LazyLock<Cache> = LazyLock::new(|| {
    Cache::builder()
        .prefix("evicting")
        .capacity(64)
        .build()
        .unwrap()
});

static DATA: AtomicUsize = AtomicUsize::new(0);
static PAUSE_ARMED: AtomicBool = AtomicBool::new(false);
static STARTED: Barrier = Barrier::new(2);
static RESUME: Barrier = Barrier::new(2);

/// Reads DATA, then (when armed) waits for the test before returning it.
#[cached(cache = SMALL)]
fn slow(n: u32) -> String {
    let value = format!("{n}:{}", DATA.load(SeqCst));
    if PAUSE_ARMED.swap(false, SeqCst) {
        STARTED.wait();
        RESUME.wait();
    }
    value
}

#[cached(cache = SMALL, lock = false)]
fn filler(n: u64) -> u64 {
    n
}

/// The entry key of `slow(1)` (as README's *Keys* describes it), to see the
/// tombstone go: the arguments `(1,)` in CBOR are `[0x81, 0x01]`.
fn slow_1_key() -> String {
    let hash = xxhash_rust::xxh3::xxh3_128(&[0x81, 0x01]);
    format!("evicting:entry:memory_invalidation.slow:{hash:032x}")
}

fn is_held(key: &str) -> bool {
    SMALL.backend().get_many(&[key]).unwrap()[0].is_some()
}

#[test]
fn invalidate_beats_an_in_flight_computation_even_when_its_tombstone_is_evicted() {
    for n in 0..1_000 {
        filler(n);
    }
    PAUSE_ARMED.store(true, SeqCst);
    let computing = std::thread::spawn(|| slow(1));
    STARTED.wait();
    DATA.fetch_add(1, SeqCst);
    slow_invalidate(1).expect("invalidate");
    assert!(is_held(&slow_1_key()), "the tombstone");
    // Enough new keys to push the tombstone out of the (full) cache.
    for n in 1_000..3_000 {
        filler(n);
    }
    assert!(!is_held(&slow_1_key()), "the tombstone was evicted");
    RESUME.wait();
    assert_eq!(
        computing.join().unwrap(),
        "1:0",
        "the racing call returns its own value"
    );
    assert_eq!(slow(1), "1:1", "but it was not stored");
}
