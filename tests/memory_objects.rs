//! The memory backend keeps values as typed objects: a hit clones the value
//! out and neither serializes nor deserializes it (nor do the misses that
//! store it: the README's "In memory").

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;

use cachetool::{cached, Cache};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

static SERIALIZED: AtomicUsize = AtomicUsize::new(0);
static DESERIALIZED: AtomicUsize = AtomicUsize::new(0);

/// A value that counts every serialization and deserialization of itself.
#[derive(Clone, Debug, PartialEq)]
struct Counted(u64);

impl Serialize for Counted {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SERIALIZED.fetch_add(1, SeqCst);
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Counted {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Counted, D::Error> {
        DESERIALIZED.fetch_add(1, SeqCst);
        u64::deserialize(deserializer).map(Counted)
    }
}

static CACHE: LazyLock<Cache> = LazyLock::new(Cache::memory);
static RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = CACHE, tags = ["t"])]
fn counted(n: u64) -> Counted {
    RUNS.fetch_add(1, SeqCst);
    Counted(n)
}

#[test]
fn an_in_memory_hit_neither_serializes_nor_deserializes() {
    assert_eq!(counted(7), Counted(7));
    for _ in 0..10 {
        assert_eq!(counted(7), Counted(7));
    }
    assert_eq!(RUNS.load(SeqCst), 1, "ten hits");
    assert_eq!(CACHE.stats().hits, 10);
    assert_eq!(SERIALIZED.load(SeqCst), 0);
    assert_eq!(DESERIALIZED.load(SeqCst), 0);
}
