//! One recency list of the shard's policy (the window, probation or
//! protected): keys in least-recently-used order, found by their hash.

use std::hash::{BuildHasherDefault, Hash, Hasher};

use hashlink::linked_hash_map::{RawEntryMut, RawOccupiedEntryMut};
use hashlink::LinkedHashMap;

use super::shard::{Hashed, Slot};

/// Keys with their slots; the front is the least recently used.
pub(super) struct Segment {
    slots: LinkedHashMap<StoredKey, Slot, BuildHasherDefault<StoredHasher>>,
}

/// A key found in a segment, to read, move to the back or take out.
pub(super) type Found<'a> =
    RawOccupiedEntryMut<'a, StoredKey, Slot, BuildHasherDefault<StoredHasher>>;

/// A key kept with its xxh3 hash: moving it to another segment, or growing a
/// map, never hashes the string again.
#[derive(PartialEq, Eq)]
pub(super) struct StoredKey {
    hash: u64,
    key: Box<str>,
}

impl StoredKey {
    pub(super) fn new(key: Hashed<'_>) -> StoredKey {
        StoredKey {
            hash: key.hash,
            key: key.key.into(),
        }
    }

    pub(super) fn hash(&self) -> u64 {
        self.hash
    }
}

impl Hash for StoredKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Passes the stored hash through: a `StoredKey` hashes as its `hash`.
#[derive(Default)]
pub(super) struct StoredHasher(u64);

impl Hasher for StoredHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `StoredKey`; any other input still hashes.
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Segment {
    pub(super) fn new() -> Segment {
        Segment {
            slots: LinkedHashMap::with_hasher(BuildHasherDefault::default()),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The slot of `key`, if this segment holds it, untouched.
    pub(super) fn peek(&self, key: Hashed<'_>) -> Option<&Slot> {
        self.slots
            .raw_entry()
            .from_hash(key.hash, |stored| *stored.key == *key.key)
            .map(|(_, slot)| slot)
    }

    /// `key` if this segment holds it, to act on.
    pub(super) fn find(&mut self, key: Hashed<'_>) -> Option<Found<'_>> {
        match self
            .slots
            .raw_entry_mut()
            .from_hash(key.hash, |stored| *stored.key == *key.key)
        {
            RawEntryMut::Occupied(found) => Some(found),
            RawEntryMut::Vacant(_) => None,
        }
    }

    /// Adds a key that no segment holds, as the most recently used.
    pub(super) fn push_back(&mut self, key: StoredKey, slot: Slot) {
        let hash = key.hash;
        match self
            .slots
            .raw_entry_mut()
            .from_hash(hash, |stored| stored.key == key.key)
        {
            RawEntryMut::Vacant(vacant) => {
                vacant.insert_hashed_nocheck(hash, key, slot);
            }
            RawEntryMut::Occupied(mut occupied) => {
                debug_assert!(false, "a segment got a key it already holds");
                *occupied.get_mut() = slot;
                occupied.to_back();
            }
        }
    }

    /// The least recently used key, untouched.
    pub(super) fn front(&self) -> Option<(&StoredKey, &Slot)> {
        self.slots.front()
    }

    /// Takes out the least recently used key.
    pub(super) fn pop_front(&mut self) -> Option<(StoredKey, Slot)> {
        self.slots.pop_front()
    }
}
