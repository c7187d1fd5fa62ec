//! The in-process backend: a sharded map with a capacity bound in entries,
//! least-recently-used eviction in O(1) and per-entry expiry.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hashlink::LinkedHashMap;
use parking_lot::Mutex;
use xxhash_rust::xxh3::{xxh3_64, Xxh3Builder};

use super::{Backend, LoadStart, LockRequest, Value};
use crate::Result;

/// Keeps values in this process, as typed objects: a hit clones the value out
/// and neither serializes nor deserializes.
///
/// Keys are spread over shards, each behind its own lock, so that callers of
/// different keys rarely wait for each other. Each shard evicts its least
/// recently used key when full; expired keys are never returned and are
/// dropped when read or evicted.
pub struct MemoryBackend {
    shards: Box<[Mutex<Shard>]>,
    capacity: usize,
}

struct Shard {
    /// In recency order: the front is the least recently used.
    slots: LinkedHashMap<Box<str>, Slot, Xxh3Builder>,
    capacity: usize,
}

struct Slot {
    value: Value,
    expires_at: Option<Instant>,
}

impl Slot {
    fn new(value: Value, ttl: Option<Duration>) -> Slot {
        Slot {
            value,
            expires_at: ttl.map(|ttl| Instant::now() + ttl),
        }
    }

    fn is_live(&self) -> bool {
        self.expires_at.is_none_or(|at| Instant::now() < at)
    }
}

/// Below this many entries per shard, fewer shards: small caches keep an exact LRU.
const ENTRIES_PER_SHARD: usize = 256;
const MAX_SHARDS: usize = 64;

impl MemoryBackend {
    /// A backend that holds at most `capacity` keys (entries, tag versions and
    /// locks together). A capacity of 0 is raised to 1.
    pub fn new(capacity: usize) -> MemoryBackend {
        let capacity = capacity.max(1);
        let shard_count = (capacity / ENTRIES_PER_SHARD)
            .clamp(1, MAX_SHARDS)
            .next_power_of_two()
            .min(MAX_SHARDS);
        let per_shard = capacity.div_ceil(shard_count);
        let shards = (0..shard_count)
            .map(|_| {
                Mutex::new(Shard {
                    slots: LinkedHashMap::with_hasher(Xxh3Builder::new()),
                    capacity: per_shard,
                })
            })
            .collect();
        MemoryBackend { shards, capacity }
    }

    /// The most keys this backend holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many keys it holds now, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().slots.len())
            .sum()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &str) -> &Mutex<Shard> {
        // shards.len() is a power of two.
        let index = xxh3_64(key.as_bytes()) as usize & (self.shards.len() - 1);
        &self.shards[index]
    }
}

impl Shard {
    /// The live value of `key`, marked as recently used.
    fn get(&mut self, key: &str) -> Option<&Value> {
        let live = self.slots.get(key)?.is_live();
        if !live {
            self.slots.remove(key);
            return None;
        }
        self.slots.to_back(key);
        self.slots.get(key).map(|slot| &slot.value)
    }

    fn insert(&mut self, key: &str, slot: Slot) {
        if let Some(existing) = self.slots.get_mut(key) {
            *existing = slot;
            self.slots.to_back(key);
            return;
        }
        self.slots.insert(key.into(), slot);
        while self.slots.len() > self.capacity {
            self.slots.pop_front();
        }
    }
}

fn lock_token(token: u64) -> Value {
    Value::Bytes(Bytes::copy_from_slice(&token.to_le_bytes()))
}

impl Backend for MemoryBackend {
    fn name(&self) -> &str {
        "memory"
    }

    fn stores_objects(&self) -> bool {
        true
    }

    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Value>>> {
        Ok(keys
            .iter()
            .map(|key| self.shard(key).lock().get(key).cloned())
            .collect())
    }

    fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()> {
        self.shard(key).lock().insert(key, Slot::new(value, ttl));
        Ok(())
    }

    fn replace_if(
        &self,
        key: &str,
        seen: Option<&Value>,
        value: Value,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        let mut shard = self.shard(key).lock();
        // Compared with the raw slot, expired or not: a value that expired after it
        // was read has not been replaced by anyone.
        let unchanged = match (shard.slots.get(key), seen) {
            (Some(slot), Some(seen)) => slot.value.is_same(seen),
            (Some(slot), None) => !slot.is_live(),
            (None, seen) => seen.is_none(),
        };
        if unchanged {
            shard.insert(key, Slot::new(value, ttl));
        }
        Ok(unchanged)
    }

    fn delete_many(&self, keys: &[&str]) -> Result<()> {
        for key in keys {
            self.shard(key).lock().slots.remove(*key);
        }
        Ok(())
    }

    fn unlock(&self, key: &str, token: u64) -> Result<()> {
        let mut shard = self.shard(key).lock();
        let held = shard
            .slots
            .get(key)
            .is_some_and(|slot| slot.value.is_same(&lock_token(token)));
        if held {
            shard.slots.remove(key);
        }
        Ok(())
    }

    fn begin_load(
        &self,
        lock: Option<LockRequest<'_>>,
        version_keys: &[&str],
        new_versions: &[Value],
        entry_key: &str,
    ) -> Result<LoadStart> {
        let locked = lock.is_some_and(|lock| {
            let mut shard = self.shard(lock.key).lock();
            let free = shard.get(lock.key).is_none();
            if free {
                shard.insert(lock.key, Slot::new(lock_token(lock.token), Some(lock.ttl)));
            }
            free
        });
        let versions = version_keys
            .iter()
            .zip(new_versions)
            .map(|(key, candidate)| {
                let mut shard = self.shard(key).lock();
                if let Some(existing) = shard.get(key) {
                    return existing.clone();
                }
                shard.insert(key, Slot::new(candidate.clone(), None));
                candidate.clone()
            })
            .collect();
        let entry = self.shard(entry_key).lock().get(entry_key).cloned();
        Ok(LoadStart {
            locked,
            versions,
            entry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> Value {
        Value::Bytes(Bytes::copy_from_slice(text.as_bytes()))
    }

    fn read(backend: &MemoryBackend, key: &str) -> Option<Vec<u8>> {
        backend.get_many(&[key]).unwrap()[0]
            .as_ref()
            .map(|value| value.as_bytes().unwrap().to_vec())
    }

    #[test]
    fn evicts_the_least_recently_used_key_at_capacity() {
        let backend = MemoryBackend::new(2);
        backend.set("a", bytes("1"), None).unwrap();
        backend.set("b", bytes("2"), None).unwrap();
        assert!(read(&backend, "a").is_some()); // a is now more recent than b
        backend.set("c", bytes("3"), None).unwrap();
        assert_eq!(backend.len(), 2);
        assert_eq!(read(&backend, "b"), None);
        assert_eq!(read(&backend, "a").as_deref(), Some(&b"1"[..]));
        assert_eq!(read(&backend, "c").as_deref(), Some(&b"3"[..]));
    }

    #[test]
    fn capacity_holds_across_shards() {
        let backend = MemoryBackend::new(1000);
        for index in 0..10_000 {
            backend
                .set(&format!("key{index}"), bytes("x"), None)
                .unwrap();
        }
        assert!(
            backend.len() <= 1000 + backend.shards.len(),
            "{}",
            backend.len()
        );
        assert!(backend.len() >= 900, "{}", backend.len());
    }

    #[test]
    fn an_expired_key_is_never_returned() {
        let backend = MemoryBackend::new(10);
        backend.set("k", bytes("v"), Some(Duration::ZERO)).unwrap();
        assert_eq!(read(&backend, "k"), None);
        assert_eq!(backend.len(), 0);
    }

    #[test]
    fn replace_if_stores_only_over_what_was_seen() {
        let backend = MemoryBackend::new(10);
        assert!(backend.replace_if("k", None, bytes("1"), None).unwrap());
        assert!(!backend.replace_if("k", None, bytes("2"), None).unwrap());
        let seen = backend.get_many(&["k"]).unwrap().remove(0).unwrap();
        backend.set("k", bytes("other"), None).unwrap();
        assert!(!backend
            .replace_if("k", Some(&seen), bytes("3"), None)
            .unwrap());
        assert_eq!(read(&backend, "k").as_deref(), Some(&b"other"[..]));
    }

    #[test]
    fn a_lock_is_released_only_by_its_owner() {
        let backend = MemoryBackend::new(10);
        let lock = |token| LockRequest {
            key: "l",
            token,
            ttl: Duration::from_secs(60),
        };
        assert!(
            backend
                .begin_load(Some(lock(1)), &[], &[], "e")
                .unwrap()
                .locked
        );
        assert!(
            !backend
                .begin_load(Some(lock(2)), &[], &[], "e")
                .unwrap()
                .locked
        );
        backend.unlock("l", 2).unwrap();
        assert!(
            !backend
                .begin_load(Some(lock(3)), &[], &[], "e")
                .unwrap()
                .locked
        );
        backend.unlock("l", 1).unwrap();
        assert!(
            backend
                .begin_load(Some(lock(4)), &[], &[], "e")
                .unwrap()
                .locked
        );
    }

    #[test]
    fn begin_load_creates_missing_versions_without_overwriting() {
        let backend = MemoryBackend::new(10);
        backend.set("t1", bytes("old"), None).unwrap();
        let start = backend
            .begin_load(None, &["t1", "t2"], &[bytes("new1"), bytes("new2")], "e")
            .unwrap();
        let versions: Vec<_> = start
            .versions
            .iter()
            .map(|v| v.as_bytes().unwrap().to_vec())
            .collect();
        assert_eq!(versions, [b"old".to_vec(), b"new2".to_vec()]);
        assert!(!start.locked);
        assert!(start.entry.is_none());
    }
}
