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

pub(crate) use entry::{entry, EntryKey, FoldHasher, Header, StoredEntry};
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

    /// A clone of the `T` under `key` if the entry is fresh (whatever its
    /// versions), counted as a use: what the memory backend's raw reads and
    /// the tests read.
    pub(crate) fn value<T: Clone + 'static>(&self, key: &EntryKey) -> Option<T> {
        self.read_fresh(key, |entry| entry.value::<T>().cloned())
    }

    /// `read` of the entry under `key` if it is fresh, in place, counted as a
    /// use: what a hit clones its value out of. A stale entry is not read,
    /// and dropped if it is expired.
    #[inline]
    pub(crate) fn read_fresh<R>(
        &self,
        key: &EntryKey,
        read: impl FnOnce(&Entry<dyn Any + Send + Sync>) -> Option<R>,
    ) -> Option<R> {
        match self
            .entries
            .read(key, |entry| fresh_or_stale(entry, read))?
        {
            Fresh(read) => read,
            Stale { expired } => self.drop_if(expired, key),
        }
    }

    /// The same, not counted as a use.
    pub(crate) fn peek_fresh<R>(
        &self,
        key: &EntryKey,
        read: impl FnOnce(&Entry<dyn Any + Send + Sync>) -> Option<R>,
    ) -> Option<R> {
        match self
            .entries
            .peek(key, |entry| fresh_or_stale(entry, read))?
        {
            Fresh(read) => read,
            Stale { expired } => self.drop_if(expired, key),
        }
    }

    /// What a read that found a stale entry returns (`None`), once it let go
    /// of the read lock: if the entry was also `expired`, it is dropped,
    /// under the write lock, if the one under `key` then is still expired. A
    /// stale entry kept for `stale` or `fail_safe` takes no write lock.
    #[cold]
    fn drop_if<R>(&self, expired: bool, key: &EntryKey) -> Option<R> {
        if expired {
            let now = clock::now();
            self.entries.remove_if(key, |kept| kept.header.expired(now));
        }
        None
    }

    /// `read` of the entry under `key`, expired or not, counted as a use.
    pub(crate) fn read_expired_too<R>(
        &self,
        key: &EntryKey,
        read: impl FnOnce(&Entry<dyn Any + Send + Sync>) -> R,
    ) -> Option<R> {
        self.entries.read(key, |entry| read(entry))
    }

    /// The same, not counted as a use.
    pub(crate) fn peek_expired_too<R>(
        &self,
        key: &EntryKey,
        read: impl FnOnce(&Entry<dyn Any + Send + Sync>) -> R,
    ) -> Option<R> {
        self.entries.peek(key, |entry| read(entry))
    }

    pub(crate) fn insert(&self, key: EntryKey, entry: StoredEntry) {
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

/// What a read under the shard's lock found.
enum Freshness<R> {
    /// A fresh entry (a plain hit), and what `read` made of it.
    Fresh(R),
    /// A stale one, not read, and whether it is also past the time it is
    /// kept until: the caller then drops it, once the lock is released.
    Stale { expired: bool },
}
use Freshness::{Fresh, Stale};

/// Under the shard's lock: `read` of `entry` if it is fresh.
#[inline]
fn fresh_or_stale<R>(
    entry: &StoredEntry,
    read: impl FnOnce(&Entry<dyn Any + Send + Sync>) -> Option<R>,
) -> Freshness<Option<R>> {
    if entry.header.expires() {
        let now = clock::now();
        if entry.header.stale(now) {
            let expired = entry.header.expired(now);
            return Stale { expired };
        }
    }
    Fresh(read(entry))
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
        self.kept_value(call, Duration::ZERO)
    }

    /// The value of `call` if its versions are current and its TTL ran out
    /// less than `within` ago (or has not), not counted as a use: what
    /// `fail_safe` falls back on.
    pub(crate) fn kept_value<T: Clone + 'static>(
        &self,
        call: CallId,
        within: Duration,
    ) -> Option<T> {
        let key = self.key(call);
        let (value, _) = self
            .tier()
            .peek_expired_too(&key, |entry| self.value_within(entry, within))??;
        Some(value)
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
        let key = self.key(call);
        self.tier()
            .read_expired_too(&key, |entry| self.value_within(entry, stale))?
    }

    /// The value of `entry` if its versions are current, it is not past the
    /// time it is kept, and its TTL ran out less than `within` ago (or has
    /// not); with whether it is stale (past its refresh point or its TTL).
    fn value_within<T: Clone + 'static>(
        &self,
        entry: &Entry<dyn Any + Send + Sync>,
        within: Duration,
    ) -> Option<(T, bool)> {
        let now = clock::now();
        let header = &entry.header;
        if header.expired(now) || header.stale_for(now).is_some_and(|ago| ago >= within) {
            return None;
        }
        let stale = header.stale(now);
        Some((self.value_of(entry)?, stale))
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
