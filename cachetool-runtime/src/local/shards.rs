//! The local tier's storage engine: quick_cache's single-threaded cache, one
//! per shard, each behind its own read-write lock.
//!
//! quick_cache's concurrent cache is the same thing, but its `get` hands
//! back a clone of the value: the entry would have to be an `Arc`, whose
//! count every hit then increments and decrements, two atomic
//! read-modify-writes on a cache line that every thread hitting the entry
//! shares. Here a hit reads the entry in place under the shard's read lock
//! ([`Shards::read`]) and clones only the typed value out of it; nothing
//! shares an entry, and its slot owns it in a `Box`.
//!
//! Entries that leave the engine (evicted by an insert, removed, cleared) are
//! dropped after the shard's lock is released: dropping a value runs its
//! `Drop`, user code that must not run under our lock.

use std::hash::BuildHasher;

use parking_lot::RwLock;
use quick_cache::unsync::Cache as Shard;
use quick_cache::{Lifecycle, OptionsBuilder, UnitWeighter};
use smallvec::SmallVec;

use super::entry::{EntryKey, FoldHash, StoredEntry};

type Engine = Shard<EntryKey, StoredEntry, UnitWeighter, FoldHash, DropLater>;

/// Entries spread over shards by their key's hash, at most a fixed number in
/// each.
pub(super) struct Shards {
    shards: Box<[RwLock<Engine>]>,
    /// The shard of a hash: its bits from the 32nd up, masked, as quick_cache's
    /// concurrent cache picks it (its table uses the lowest bits and the top
    /// seven).
    mask: u64,
}

impl Shards {
    /// `shards` (a power of two) shards of at most `per_shard` entries each;
    /// `estimated` sets the size of each one's ghost list (its table grows as
    /// entries come).
    pub(super) fn new(shards: usize, per_shard: usize, estimated: usize) -> Shards {
        debug_assert!(shards.is_power_of_two());
        let options = OptionsBuilder::new()
            .estimated_items_capacity(estimated.max(1))
            .weight_capacity(per_shard as u64)
            .build()
            .expect("the options are in range");
        let engine = || Engine::with_options(options.clone(), UnitWeighter, FoldHash, DropLater);
        Shards {
            shards: (0..shards).map(|_| RwLock::new(engine())).collect(),
            mask: shards as u64 - 1,
        }
    }

    #[inline]
    fn shard(&self, key: &EntryKey) -> &RwLock<Engine> {
        let hash = FoldHash.hash_one(key);
        &self.shards[((hash >> 32) & self.mask) as usize]
    }

    /// `read` of the entry under `key`, in place, counted as a use (`None`:
    /// no entry).
    ///
    /// `read` runs under the shard's read lock, which a waiting writer holds
    /// new readers off (a stream of hits cannot starve an insert or an
    /// invalidation). What `read` runs must not take this tier's locks: the
    /// value's `Clone` runs there, which is why the README asks that a
    /// value's `Clone` call no cached function.
    #[inline]
    pub(super) fn read<R>(
        &self,
        key: &EntryKey,
        read: impl FnOnce(&StoredEntry) -> R,
    ) -> Option<R> {
        let shard = self.shard(key).read();
        shard.get(key).map(read)
    }

    /// The same, not counted as a use.
    pub(super) fn peek<R>(
        &self,
        key: &EntryKey,
        read: impl FnOnce(&StoredEntry) -> R,
    ) -> Option<R> {
        let shard = self.shard(key).read();
        shard.peek(key).map(read)
    }

    pub(super) fn insert(&self, key: EntryKey, entry: StoredEntry) {
        let mut evicted = Evicted::default();
        self.shard(&key)
            .write()
            .insert_with_lifecycle(key, entry, &mut evicted);
        drop(evicted);
    }

    pub(super) fn remove(&self, key: &EntryKey) {
        let removed = self.shard(key).write().remove(key);
        drop(removed);
    }

    /// Removes the entry under `key` if `which` says so.
    pub(super) fn remove_if(&self, key: &EntryKey, which: impl FnOnce(&StoredEntry) -> bool) {
        let removed = self.shard(key).write().remove_if(key, which);
        drop(removed);
    }

    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|shard| shard.read().len()).sum()
    }

    pub(super) fn clear(&self) {
        for shard in self.shards.iter() {
            let cleared: Vec<StoredEntry> = shard.write().drain().map(|(_, entry)| entry).collect();
            drop(cleared);
        }
    }
}

/// Entries evicted by one insert, dropped once its lock is released.
type Evicted = SmallVec<[StoredEntry; 2]>;

/// The lifecycle that keeps what an insert evicts for the caller to drop.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct DropLater;

impl Lifecycle<EntryKey, StoredEntry> for DropLater {
    type RequestState = Evicted;

    #[inline]
    fn on_evict(&self, evicted: &mut Evicted, _key: EntryKey, entry: StoredEntry) {
        evicted.push(entry);
    }
}
