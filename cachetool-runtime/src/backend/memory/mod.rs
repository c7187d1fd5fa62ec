//! The in-process backend: a sharded map with a capacity bound in entries,
//! W-TinyLFU eviction in O(1) (see `shard.rs`) and per-entry expiry.

mod segment;
mod shard;
mod sketch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};

use self::shard::{Hashed, Shard, Slot};
use super::{Backend, HeldLock, LoadStart, LockRequest, Value};
use crate::Result;

/// Keeps values in this process, as typed objects: a hit clones the value out
/// and neither serializes nor deserializes.
///
/// Keys are spread over shards, each behind its own lock, so that callers of
/// different keys rarely wait for each other. A full shard evicts as W-TinyLFU
/// does (as moka and Caffeine): a new key is kept only if it was used more
/// often lately than the key it would replace, so a burst of keys used once
/// does not push out keys used again and again. Expired keys are never
/// returned and are dropped when read or evicted.
pub struct MemoryBackend {
    shards: Box<[Locked]>,
    capacity: usize,
}

/// A shard behind its lock, with a count of its writes.
struct Locked {
    shard: Mutex<Shard>,
    /// Bumped, under the lock, by every change of a value in the shard (a
    /// store, a delete, an eviction); not by a read that drops an expired key.
    /// While it stays the same, a value without expiry read from the shard
    /// earlier is still its value: see [`MemoryBackend::generation`].
    generation: AtomicU64,
}

/// A shard locked to write.
struct Writing<'a> {
    shard: MutexGuard<'a, Shard>,
    generation: &'a AtomicU64,
}

impl Writing<'_> {
    /// The shard, to change: its generation moves on (under its lock, so a
    /// reader holding the lock sees a generation and values that go together).
    fn changed(&mut self) -> &mut Shard {
        self.generation.fetch_add(1, Ordering::Release);
        &mut self.shard
    }

    /// The shard, to read.
    fn peek(&self, key: Hashed<'_>) -> Option<&Slot> {
        self.shard.peek(key)
    }

    /// The shard, to read and count a use: not a change (it may drop an expired
    /// slot, which no kept version is).
    fn get(&mut self, key: Hashed<'_>) -> Option<&Value> {
        self.shard.get(key)
    }
}

/// Where a key is: its hash and its shard, for [`MemoryBackend::generation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    hash: u64,
    shard: usize,
}

impl Place {
    /// The key's hash (xxh3-64 of its bytes).
    pub(crate) fn hash(self) -> u64 {
        self.hash
    }

    /// The index of the key's shard.
    #[cfg(test)]
    pub(crate) fn shard(self) -> usize {
        self.shard
    }
}

/// Below this many entries per shard, fewer shards: a small cache keeps one policy over all its keys.
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
        // The first `capacity % shard_count` shards hold one key more, so the
        // shards together hold exactly `capacity`.
        let (per_shard, rest) = (capacity / shard_count, capacity % shard_count);
        let shards = (0..shard_count)
            .map(|index| Locked {
                shard: Mutex::new(Shard::new(per_shard + usize::from(index < rest))),
                generation: AtomicU64::new(0),
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
            .map(|locked| locked.shard.lock().len())
            .sum()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn index(&self, key: Hashed<'_>) -> usize {
        // The map inside uses the low bits of the same hash; the shard takes the high
        // ones. shards.len() is a power of two.
        (key.hash >> 32) as usize & (self.shards.len() - 1)
    }

    /// The shard of `key`, locked, to read.
    fn lock(&self, key: Hashed<'_>) -> MutexGuard<'_, Shard> {
        self.shards[self.index(key)].shard.lock()
    }

    /// The shard of `key`, locked, to write: [`Writing::changed`] moves its
    /// generation on, before any change.
    fn lock_to_write(&self, key: Hashed<'_>) -> Writing<'_> {
        let locked = &self.shards[self.index(key)];
        Writing {
            shard: locked.shard.lock(),
            generation: &locked.generation,
        }
    }

    /// Where `key` is.
    pub(crate) fn place_of(&self, key: &str) -> Place {
        let hashed = Hashed::new(key);
        Place {
            hash: hashed.hash,
            shard: self.index(hashed),
        }
    }

    /// How many writes the shard has had: while this stays the same, no key of
    /// the shard has changed, so a value read with [`read_version`] is still
    /// the key's value. One atomic load, no lock: what lets every call check
    /// the namespace epoch without all threads taking the epoch's shard lock.
    ///
    /// [`read_version`]: MemoryBackend::read_version
    pub(crate) fn generation(&self, place: Place) -> u64 {
        self.shards[place.shard].generation.load(Ordering::Acquire)
    }

    /// The value of `key` (counted as a use) with its shard's generation at
    /// the time, if the key holds a value that never expires: one that stays
    /// the key's value for as long as the generation stays the same.
    pub(crate) fn read_version(&self, key: &str) -> Option<(u64, Value)> {
        let hashed = Hashed::new(key);
        let locked = &self.shards[self.index(hashed)];
        let mut shard = locked.shard.lock();
        // Writes bump it under this lock: it can't move while the lock is held.
        let generation = locked.generation.load(Ordering::Relaxed);
        let value = shard.get(hashed)?.clone();
        shard
            .peek(hashed)
            .is_some_and(Slot::never_expires)
            .then_some((generation, value))
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

    fn is_local(&self) -> bool {
        true
    }

    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Value>>> {
        Ok(keys
            .iter()
            .map(|key| {
                let key = Hashed::new(key);
                self.lock(key).get(key).cloned()
            })
            .collect())
    }

    fn read_each(&self, keys: &[&str], each: &mut dyn FnMut(Option<Value>)) -> Result<()> {
        for key in keys {
            let key = Hashed::new(key);
            let value = self.lock(key).get(key).cloned();
            each(value);
        }
        Ok(())
    }

    fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()> {
        let key = Hashed::new(key);
        let mut shard = self.lock_to_write(key);
        shard.changed().insert(key, Slot::new(value, ttl));
        Ok(())
    }

    fn replace_if(
        &self,
        key: &str,
        seen: Option<&Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<HeldLock<'_>>,
    ) -> Result<bool> {
        let unchanged = {
            let key = Hashed::new(key);
            let mut shard = self.lock_to_write(key);
            // Compared with the raw slot, expired or not: a value that expired after it
            // was read has not been replaced by anyone.
            let unchanged = match (shard.peek(key), seen) {
                (Some(slot), Some(seen)) => slot.value.is_same(seen),
                (Some(slot), None) => !slot.is_live(),
                (None, seen) => seen.is_none(),
            };
            if unchanged {
                shard.changed().insert(key, Slot::new(value, ttl));
            }
            unchanged
        };
        // The entry's shard lock is released first: the lock key may be in another
        // shard, and holding two shard locks at once could deadlock. Waiters that
        // see the lock gone find the value already stored.
        if let Some(lock) = release {
            self.unlock(lock.key, lock.token)?;
        }
        Ok(unchanged)
    }

    fn delete_many(&self, keys: &[&str]) -> Result<()> {
        for key in keys {
            let key = Hashed::new(key);
            let mut shard = self.lock_to_write(key);
            if shard.peek(key).is_some() {
                shard.changed().remove(key);
            }
        }
        Ok(())
    }

    fn unlock(&self, key: &str, token: u64) -> Result<()> {
        let key = Hashed::new(key);
        let mut shard = self.lock_to_write(key);
        let held = shard
            .peek(key)
            .is_some_and(|slot| slot.value.is_same(&lock_token(token)));
        if held {
            shard.changed().remove(key);
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
            let key = Hashed::new(lock.key);
            let mut shard = self.lock_to_write(key);
            let free = shard.get(key).is_none();
            if free {
                let lock_slot = Slot::new(lock_token(lock.token), Some(lock.ttl));
                shard.changed().insert(key, lock_slot);
            }
            free
        });
        let versions = version_keys
            .iter()
            .zip(new_versions)
            .map(|(key, candidate)| {
                let key = Hashed::new(key);
                let mut shard = self.lock_to_write(key);
                if let Some(existing) = shard.get(key) {
                    return existing.clone();
                }
                shard
                    .changed()
                    .insert(key, Slot::new(candidate.clone(), None));
                candidate.clone()
            })
            .collect();
        let entry_key = Hashed::new(entry_key);
        let entry = self.lock(entry_key).get(entry_key).cloned();
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
    fn at_capacity_a_key_used_again_outlives_keys_used_once() {
        // One shard of 2: a window of one key and a main of one.
        let backend = MemoryBackend::new(2);
        backend.set("a", bytes("1"), None).unwrap();
        backend.set("b", bytes("2"), None).unwrap(); // a leaves the window for main
        assert!(read(&backend, "a").is_some()); // a is now used twice
        backend.set("c", bytes("3"), None).unwrap(); // b (used once) is not admitted
        assert_eq!(backend.len(), 2);
        assert_eq!(read(&backend, "b"), None);
        assert_eq!(read(&backend, "a").as_deref(), Some(&b"1"[..]));
        assert_eq!(read(&backend, "c").as_deref(), Some(&b"3"[..]));
        // Keys used once keep coming: a, read again now and then, stays.
        for index in 0..300 {
            backend
                .set(&format!("once{index}"), bytes("x"), None)
                .unwrap();
            if index % 3 == 0 {
                assert_eq!(read(&backend, "a").as_deref(), Some(&b"1"[..]), "{index}");
            }
        }
        assert_eq!(backend.len(), 2);
    }

    #[test]
    fn a_key_read_on_every_call_survives_a_stream_of_new_keys() {
        // As the namespace epoch: read by every lookup, hit or miss, while the
        // lookups store new entries and take and release lock keys.
        let backend = MemoryBackend::new(10_000);
        backend.set("app:epoch", bytes("e"), None).unwrap();
        let lock = |index| LockRequest {
            key: "app:lock",
            token: index,
            ttl: Duration::from_secs(60),
        };
        for index in 0..30_000 {
            let entry = format!("app:entry{index}");
            let start = backend
                .begin_load(Some(lock(index)), &["app:epoch"], &[bytes("new")], &entry)
                .unwrap();
            assert_eq!(start.versions[0].as_bytes(), Some(&b"e"[..]), "{index}");
            backend
                .replace_if(
                    &entry,
                    None,
                    bytes("v"),
                    None,
                    Some(HeldLock {
                        key: "app:lock",
                        token: index,
                    }),
                )
                .unwrap();
        }
        assert!(backend.len() <= 10_000);
    }

    #[test]
    fn capacity_holds_across_shards() {
        // Capacities that the shards do not divide evenly: the bound is exact.
        for capacity in [1002, 1001, 16_383, 16_447] {
            let backend = MemoryBackend::new(capacity);
            assert!(capacity % backend.shards.len() != 0, "{capacity}");
            for index in 0..capacity * 4 {
                backend
                    .set(&format!("key{index}"), bytes("x"), None)
                    .unwrap();
            }
            assert!(backend.len() <= capacity, "{capacity}: {}", backend.len());
            assert!(
                backend.len() >= capacity * 9 / 10,
                "{capacity}: {}",
                backend.len()
            );
        }
    }

    #[test]
    fn an_unbounded_capacity_allocates_only_for_what_it_holds() {
        // Sized up front, the frequency sketches alone would be 32 GiB.
        let backend = MemoryBackend::new(usize::MAX);
        for index in 0..2000 {
            backend.set(&format!("k{index}"), bytes("v"), None).unwrap();
        }
        assert_eq!(backend.len(), 2000);
        assert_eq!(read(&backend, "k1999").as_deref(), Some(&b"v"[..]));
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
        assert!(backend
            .replace_if("k", None, bytes("1"), None, None)
            .unwrap());
        assert!(!backend
            .replace_if("k", None, bytes("2"), None, None)
            .unwrap());
        let seen = backend.get_many(&["k"]).unwrap().remove(0).unwrap();
        backend.set("k", bytes("other"), None).unwrap();
        assert!(!backend
            .replace_if("k", Some(&seen), bytes("3"), None, None)
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
    fn replace_if_releases_the_held_lock_whether_or_not_it_stored() {
        let backend = MemoryBackend::new(100);
        let lock = |token| LockRequest {
            key: "l",
            token,
            ttl: Duration::from_secs(60),
        };
        let held = |token| Some(HeldLock { key: "l", token });
        let take = |token| {
            backend
                .begin_load(Some(lock(token)), &[], &[], "e")
                .unwrap()
                .locked
        };
        // Stored and released.
        assert!(take(1));
        assert!(backend
            .replace_if("e", None, bytes("1"), None, held(1))
            .unwrap());
        assert_eq!(read(&backend, "e").as_deref(), Some(&b"1"[..]));
        assert!(take(2), "the lock went with the store");
        // Not stored (the entry changed): released all the same.
        assert!(!backend
            .replace_if("e", None, bytes("2"), None, held(2))
            .unwrap());
        assert_eq!(read(&backend, "e").as_deref(), Some(&b"1"[..]));
        assert!(take(3), "released although nothing was stored");
        // Another caller's token: the lock stays.
        assert!(backend
            .replace_if("f", None, bytes("x"), None, held(99))
            .unwrap());
        assert!(!take(4), "a lock is released only with its own token");
        backend.unlock("l", 3).unwrap();
        assert!(take(5));
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
