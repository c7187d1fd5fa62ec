//! In memory, a hit reads no version while no clean has happened since its
//! entry was last found current (`local/namespace.rs`). These check that it
//! never serves an entry from before a `clean_all`, whichever cache of the
//! namespace made it, and that hot entries outlive a flood of new keys.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock};

use cachetool::{cached, Backend, Cache, MemoryBackend};

static SHARED: LazyLock<Arc<dyn Backend>> = LazyLock::new(|| Arc::new(MemoryBackend::new(10_000)));

fn on_shared(prefix: &str) -> Cache {
    Cache::builder()
        .prefix(prefix)
        .backend(Arc::clone(&SHARED))
        .build()
        .unwrap()
}

static READER: LazyLock<Cache> = LazyLock::new(|| on_shared("memory-epoch"));
static RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = READER)]
fn read(n: u64) -> u64 {
    RUNS.fetch_add(1, SeqCst);
    n
}

#[test]
fn clean_all_by_another_cache_of_the_same_namespace_is_seen_at_once() {
    let other = on_shared("memory-epoch");
    for round in 1..=3 {
        for n in 0..10 {
            read(n);
        }
        for n in 0..10 {
            read(n);
        }
        assert_eq!(
            RUNS.load(SeqCst),
            10 * round,
            "round {round}: computed once each"
        );
        other.clean_all().unwrap();
    }
}

static SMALL: LazyLock<Cache> = LazyLock::new(|| {
    Cache::builder()
        .prefix("small")
        .capacity(CAPACITY)
        .build()
        .unwrap()
});
/// The hot keys are a sliver of it.
const CAPACITY: usize = 64 * 256;
static HOT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = SMALL)]
fn hot(n: u64) -> u64 {
    HOT_RUNS.fetch_add(1, SeqCst);
    n
}

#[cached(cache = SMALL, lock = false)]
fn churn(n: u64) -> u64 {
    n
}

/// A full cache whose other keys come and go (a range three times the cache,
/// every call a miss and a store) while the hot keys keep being hit: the
/// keys used again must never be evicted for keys used once.
#[test]
fn keys_coming_and_going_never_evict_the_hot_keys() {
    for n in 0..10 {
        hot(n);
    }
    let range = 3 * CAPACITY as u64;
    for round in 0..4 * range {
        churn(1_000_000 + round % range);
        hot(round % 10);
    }
    assert_eq!(HOT_RUNS.load(SeqCst), 10, "the hot keys were computed once");
}
