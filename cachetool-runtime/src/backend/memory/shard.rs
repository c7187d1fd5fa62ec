//! One shard of the memory backend: keys with their slots, a capacity bound
//! and the eviction policy.

use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use hashlink::linked_hash_map::RawEntryMut;
use hashlink::LinkedHashMap;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::backend::Value;

pub(super) struct Shard {
    /// In recency order: the front is the least recently used.
    slots: LinkedHashMap<Box<str>, Slot, BuildHasherDefault<KeyHasher>>,
    capacity: usize,
}

/// Hashes a key's bytes with one xxh3 call, so that the hash that picks the
/// shard is also the one the shard's map uses: each key is hashed once.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64_with_seed(bytes, self.0);
    }

    /// `str`'s `Hash` ends with a `0xff` byte; skipping it keeps the map's hash
    /// equal to `xxh3_64(key)`.
    fn write_u8(&mut self, _: u8) {}

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A key with its hash.
#[derive(Clone, Copy)]
pub(super) struct Hashed<'a> {
    pub(super) key: &'a str,
    pub(super) hash: u64,
}

impl Hashed<'_> {
    pub(super) fn new(key: &str) -> Hashed<'_> {
        Hashed {
            key,
            hash: xxh3_64(key.as_bytes()),
        }
    }
}

pub(super) struct Slot {
    pub(super) value: Value,
    expires_at: Option<Instant>,
}

impl Slot {
    pub(super) fn new(value: Value, ttl: Option<Duration>) -> Slot {
        Slot {
            value,
            expires_at: ttl.map(|ttl| Instant::now() + ttl),
        }
    }

    pub(super) fn is_live(&self) -> bool {
        self.expires_at.is_none_or(|at| Instant::now() < at)
    }
}

impl Shard {
    /// An empty shard that holds at most `capacity` keys.
    pub(super) fn new(capacity: usize) -> Shard {
        Shard {
            slots: LinkedHashMap::with_hasher(BuildHasherDefault::default()),
            capacity,
        }
    }

    /// How many keys it holds, expired ones not yet dropped included.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The live value of `key`, marked as recently used.
    pub(super) fn get(&mut self, key: Hashed<'_>) -> Option<&Value> {
        match self
            .slots
            .raw_entry_mut()
            .from_key_hashed_nocheck(key.hash, key.key)
        {
            RawEntryMut::Vacant(_) => None,
            RawEntryMut::Occupied(entry) if !entry.get().is_live() => {
                entry.remove();
                None
            }
            RawEntryMut::Occupied(mut entry) => {
                entry.to_back();
                Some(&entry.into_mut().value)
            }
        }
    }

    /// The slot of `key` as it is, live or not, without touching its recency.
    pub(super) fn peek(&self, key: Hashed<'_>) -> Option<&Slot> {
        self.slots
            .raw_entry()
            .from_key_hashed_nocheck(key.hash, key.key)
            .map(|(_, slot)| slot)
    }

    pub(super) fn insert(&mut self, key: Hashed<'_>, slot: Slot) {
        match self
            .slots
            .raw_entry_mut()
            .from_key_hashed_nocheck(key.hash, key.key)
        {
            RawEntryMut::Occupied(mut entry) => {
                *entry.get_mut() = slot;
                entry.to_back();
            }
            RawEntryMut::Vacant(entry) => {
                entry.insert_hashed_nocheck(key.hash, key.key.into(), slot);
                while self.slots.len() > self.capacity {
                    self.slots.pop_front();
                }
            }
        }
    }

    pub(super) fn remove(&mut self, key: Hashed<'_>) {
        if let RawEntryMut::Occupied(entry) = self
            .slots
            .raw_entry_mut()
            .from_key_hashed_nocheck(key.hash, key.key)
        {
            entry.remove();
        }
    }
}
