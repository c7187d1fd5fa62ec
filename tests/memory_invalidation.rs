//! In memory, `foo_invalidate` leaves no tombstone (which a full cache could
//! evict): it counts the invalidation, and a computation it overtook must not
//! store its value, however many keys come and go meanwhile (see
//! `cachetool-runtime/src/local/call.rs` and `invalidations.rs`).

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

#[test]
fn invalidate_beats_an_in_flight_computation_while_the_cache_churns() {
    for n in 0..1_000 {
        filler(n);
    }
    PAUSE_ARMED.store(true, SeqCst);
    let computing = std::thread::spawn(|| slow(1));
    STARTED.wait();
    DATA.fetch_add(1, SeqCst);
    slow_invalidate(1).expect("invalidate");
    // Enough new keys to turn the (full) cache over many times.
    for n in 1_000..3_000 {
        filler(n);
    }
    RESUME.wait();
    assert_eq!(
        computing.join().unwrap(),
        "1:0",
        "the racing call returns its own value"
    );
    assert_eq!(slow(1), "1:1", "but it was not stored");
}
