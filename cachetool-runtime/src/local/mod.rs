//! The local tier: entries kept in this process as typed values, keyed by a
//! call's identity (its function and a hash of its arguments), never by a
//! string. It is the whole store of the memory backend, and what a cache
//! keeps in front of a remote one.
//!
//! The storage engine is quick_cache (`shards.rs`): reads take a shard's read
//! lock and mark the entry's access bit (no exclusive lock on a hit), eviction
//! is its CLOCK-based policy with a ghost list, which keeps keys used again
//! over keys used once. (Measured against our own W-TinyLFU on the Zipf
//! workload of `benches/peers.rs`: see the README's design notes.) Expired
//! entries are never returned: a read drops them.

pub(crate) mod clock;
mod entry;
mod namespace;
mod shards;

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

pub(crate) use entry::{entry, EntryKey, FoldHasher, Header, SharedEntry};
pub(crate) use namespace::{tag_hash, LocalNamespace, TagPairs};

use crate::key::CallId;
use entry::Entry;
use shards::Shards;

/// Entries of every namespace, bounded in number, and each namespace's state.
pub(crate) struct LocalTier {
    entries: Shards,
    namespaces: Mutex<HashMap<Box<str>, Arc<LocalNamespace>>>,
    capacity: usize,
}

/// Below this many entries per shard, fewer shards: a small tier keeps one
/// policy over all its keys.
const ENTRIES_PER_SHARD: usize = 256;
/// Shards per CPU, as quick_cache's default: enough that threads rarely meet
/// on one shard's lock, few enough that each shard's eviction policy sees
/// many keys (64 shards of 156 entries kept a lower hit ratio on the Zipf
/// workload than quick_cache's 8 of 1,250).
const SHARDS_PER_CPU: usize = 4;
const MAX_SHARDS: usize = 64;

impl LocalTier {
    /// A tier of at most `capacity` entries (at least 1).
    pub(crate) fn new(capacity: usize) -> LocalTier {
        let capacity = capacity.max(1);
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let shards = (cpus * SHARDS_PER_CPU)
            .min(capacity / ENTRIES_PER_SHARD)
            .clamp(1, MAX_SHARDS)
            .next_power_of_two()
            .min(MAX_SHARDS);
        LocalTier {
            // Each shard holds the capacity divided rounding down: the total
            // is at most `capacity`.
            entries: Shards::new(shards, capacity / shards, capacity.min(1 << 24) / shards),
            namespaces: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The most entries the tier holds.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many entries it holds now (expired ones not yet dropped included).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The state of the namespace `prefix`, the same for every cache of it.
    pub(crate) fn namespace(&self, prefix: &str) -> Arc<LocalNamespace> {
        let mut namespaces = self.namespaces.lock();
        let namespace = namespaces
            .entry(prefix.into())
            .or_insert_with(|| Arc::new(LocalNamespace::new(prefix, self.capacity)));
        Arc::clone(namespace)
    }

    /// The entry under `key` if it is fresh, counted as a use.
    pub(crate) fn get(&self, key: &EntryKey) -> Option<SharedEntry> {
        self.read_fresh(key, |entry| Some(Arc::clone(entry)))
    }

    /// `read` of the entry under `key` if it is fresh, in place, counted as a
    /// use: what a hit clones its value out of, with no count of the entry's
    /// `Arc` moved. A stale entry is not read, and dropped if it is expired.
    #[inline]
    pub(crate) fn read_fresh<R>(
        &self,
        key: &EntryKey,
        read: impl FnOnce(&SharedEntry) -> Option<R>,
    ) -> Option<R> {
        match self
            .entries
            .read(key, |entry| fresh_or_stale(entry, read))?
        {
            Ok(read) => read,
            Err(stale) => self.drop_if_expired(key, &stale),
        }
    }

    /// The same, not counted as a use.
    pub(crate) fn peek_fresh<R>(
        &self,
        key: &EntryKey,
        read: impl FnOnce(&SharedEntry) -> Option<R>,
    ) -> Option<R> {
        match self
            .entries
            .peek(key, |entry| fresh_or_stale(entry, read))?
        {
            Ok(read) => read,
            Err(stale) => self.drop_if_expired(key, &stale),
        }
    }

    /// Drops `entry`, stale, if it is also past the time it is kept until
    /// (and still the one under `key`). The stale entry's read: `None`.
    #[cold]
    fn drop_if_expired<R>(&self, key: &EntryKey, entry: &SharedEntry) -> Option<R> {
        if entry.header.expired(clock::now()) {
            self.entries.remove_if(key, |kept| Arc::ptr_eq(kept, entry));
        }
        None
    }

    /// The entry under `key`, expired or not, counted as a use.
    pub(crate) fn get_expired_too(&self, key: &EntryKey) -> Option<SharedEntry> {
        self.entries.read(key, Arc::clone)
    }

    /// The entry under `key`, expired or not, not counted as a use.
    pub(crate) fn peek_expired_too(&self, key: &EntryKey) -> Option<SharedEntry> {
        self.entries.peek(key, Arc::clone)
    }

    pub(crate) fn insert(&self, key: EntryKey, entry: SharedEntry) {
        self.entries.insert(key, entry);
    }

    pub(crate) fn remove(&self, key: &EntryKey) {
        self.entries.remove(key);
    }

    /// Drops every entry (a near tier whose channel was lost).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn clear(&self) {
        self.entries.clear();
    }
}

/// Under the shard's lock: `read` of `entry` if it is fresh (a plain hit),
/// else the entry itself, for the caller to drop once the lock is released.
#[inline]
fn fresh_or_stale<R>(
    entry: &SharedEntry,
    read: impl FnOnce(&SharedEntry) -> Option<R>,
) -> Result<Option<R>, SharedEntry> {
    if entry.header.expires() && entry.header.stale(clock::now()) {
        Err(Arc::clone(entry))
    } else {
        Ok(read(entry))
    }
}

/// A cache's store in this process: a tier (the memory backend's, or the
/// one a cache keeps in front of a remote backend, see `near/`) and the
/// cache's namespace in it.
pub(crate) struct LocalStore {
    tier: Arc<LocalTier>,
    pub(crate) namespace: Arc<LocalNamespace>,
}

impl LocalStore {
    pub(crate) fn new(tier: Arc<LocalTier>, prefix: &str) -> LocalStore {
        let namespace = tier.namespace(prefix);
        LocalStore { tier, namespace }
    }

    #[inline]
    pub(crate) fn tier(&self) -> &LocalTier {
        &self.tier
    }

    /// Where the entry of `call` is.
    #[inline]
    pub(crate) fn key(&self, call: CallId) -> EntryKey {
        EntryKey::new(self.namespace.scope(call.function), call.args)
    }

    /// The value of `call`, if there is a current one, counted as a use.
    #[inline]
    pub(crate) fn current_value<T: Clone + 'static>(&self, call: CallId) -> Option<T> {
        self.tier()
            .read_fresh(&self.key(call), |entry| self.value_of(entry))
    }

    /// The same, not counted as a use.
    pub(crate) fn peek_current_value<T: Clone + 'static>(&self, call: CallId) -> Option<T> {
        self.tier()
            .peek_fresh(&self.key(call), |entry| self.value_of(entry))
    }

    /// The value of `call` if its versions are current and its TTL has not
    /// run out (due for a refresh ahead of it or not), not counted as a use:
    /// what `_peek` returns.
    pub(crate) fn peek_unexpired_value<T: Clone + 'static>(&self, call: CallId) -> Option<T> {
        let entry = self.tier().peek_expired_too(&self.key(call))?;
        Some(self.value_within(entry, Duration::ZERO)?.0)
    }

    /// The value of `call` if its versions are current and its TTL ran out
    /// less than `within` ago (or has not), not counted as a use: what
    /// `fail_safe` falls back on.
    pub(crate) fn kept_value<T: Clone + 'static>(
        &self,
        call: CallId,
        within: Duration,
    ) -> Option<T> {
        let entry = self.tier().peek_expired_too(&self.key(call))?;
        Some(self.value_within(entry, within)?.0)
    }

    /// The value of `call` if its versions are current and its TTL ran out
    /// less than `stale` ago (or has not), with whether it is due for a
    /// recomputation (past its refresh point or its TTL). Counted as a use:
    /// what `stale` and `refresh_ahead` serve.
    pub(crate) fn value_to_revalidate<T: Clone + 'static>(
        &self,
        call: CallId,
        stale: Duration,
    ) -> Option<(T, bool)> {
        let entry = self.tier().get_expired_too(&self.key(call))?;
        self.value_within(entry, stale)
    }

    /// The value of `entry` if its versions are current, it is not past the
    /// time it is kept, and its TTL ran out less than `within` ago (or has
    /// not); with whether it is stale (past its refresh point or its TTL).
    fn value_within<T: Clone + 'static>(
        &self,
        entry: SharedEntry,
        within: Duration,
    ) -> Option<(T, bool)> {
        let now = clock::now();
        let header = &entry.header;
        if header.expired(now) || header.stale_for(now).is_some_and(|ago| ago >= within) {
            return None;
        }
        let stale = header.stale(now);
        Some((self.value_of(&entry)?, stale))
    }

    /// The value of `entry`, if its versions are current and it is a `T`.
    #[inline]
    fn value_of<T: Clone + 'static>(&self, entry: &Entry<dyn Any + Send + Sync>) -> Option<T> {
        if !self.namespace.current(&entry.header) {
            return None;
        }
        entry.value::<T>().cloned()
    }
}

#[cfg(test)]
mod tests;
