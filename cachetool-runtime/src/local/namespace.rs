//! One prefix's state in a local tier: what `clean` and `clean_all` move on,
//! and what the caches sharing the prefix share (invalidation counts and
//! computations in flight).
//!
//! Versions are random `u64`s, never reused: a tag's version is replaced by a
//! clean, and a version dropped to bound memory (see [`TagVersions`]) is
//! replaced by a new one when next needed, so an entry computed under it
//! becomes a miss, never a stale hit.
//!
//! A hit must not read every version of its entry. An untagged entry has one,
//! the epoch: a hit compares it (one atomic load). For a tagged entry, the
//! namespace counts its cleans (`Invalidations::cleans`), which a clean moves
//! on after changing its versions, and the entry notes the count through
//! which its versions are known current. A hit compares the two (one atomic
//! load); only after a clean does it read the epoch and its tags' versions,
//! once, and note the new count.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use smallvec::SmallVec;

use super::entry::Header;
use crate::flight::Flights;
use crate::invalidations::Invalidations;

/// The state of one prefix in a local tier.
pub(crate) struct LocalNamespace {
    /// Mixed into every key of the namespace (never 0, the raw keys' scope).
    salt: u64,
    /// Read by every untagged hit: on a cache line of its own, apart from
    /// the tag versions' lock, which every tagged miss writes.
    epoch: Padded,
    tags: TagVersions,
    pub(crate) invalidations: Arc<Invalidations>,
    pub(crate) flights: Arc<Flights>,
}

/// The versions of an entry's tags as `(tag hash, version)`, in the order of
/// its tags: most functions have at most a few.
pub(crate) type TagPairs = SmallVec<[(u64, u64); 4]>;

impl LocalNamespace {
    pub(crate) fn new(prefix: &str, max_tags: usize) -> LocalNamespace {
        LocalNamespace {
            salt: xxhash_rust::xxh3::xxh3_64(prefix.as_bytes()) | 1,
            epoch: Padded(AtomicU64::new(new_version())),
            tags: TagVersions::new(max_tags),
            invalidations: Arc::new(Invalidations::new()),
            flights: Arc::new(Flights::new()),
        }
    }

    /// The scope of a function's entries in this namespace (see `EntryKey`).
    #[inline]
    pub(crate) fn scope(&self, function: u64) -> u64 {
        self.salt ^ function
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.0.load(Ordering::Acquire)
    }

    /// Gives the namespace a new epoch: every entry computed before is a miss.
    /// (The caller then counts the clean.)
    pub(crate) fn new_epoch(&self) {
        self.epoch.0.store(new_version(), Ordering::Release);
    }

    /// Drops the versions of `tags` (hashes of their names): every entry
    /// tagged with one of them is a miss. (The caller then counts the clean.)
    pub(crate) fn clean_tags(&self, tags: impl IntoIterator<Item = u64>) {
        self.tags.drop_versions(tags);
    }

    /// The epoch and the versions of `tags` now, made for tags that have none.
    pub(crate) fn versions_now(&self, tags: &[u64]) -> (u64, TagPairs) {
        let epoch = self.epoch();
        // Most functions have no tags: `collect` would still size and grow
        // an empty vector (about 75 instructions of a miss).
        if tags.is_empty() {
            return (epoch, TagPairs::new());
        }
        let pairs = tags
            .iter()
            .map(|&tag| (tag, self.tags.version_or_new(tag)))
            .collect();
        (epoch, pairs)
    }

    /// Whether an entry's versions are current: an untagged entry's epoch,
    /// compared; a tagged entry's, read only if a clean happened since they
    /// were last found current.
    #[inline]
    pub(crate) fn current(&self, header: &Header) -> bool {
        let Some(checked_through) = header.checked_through() else {
            return header.epoch == self.epoch();
        };
        let cleans = self.invalidations.cleans();
        if checked_through == cleans {
            return true;
        }
        self.current_after_clean(header, cleans)
    }

    /// Reads the versions of an entry after a clean (`cleans` counted, read
    /// before the versions: they are then current through it).
    #[cold]
    fn current_after_clean(&self, header: &Header, cleans: u64) -> bool {
        let current = self.still_at(header.epoch, header.tags());
        if current {
            header.checked(cleans);
        }
        current
    }
}

impl LocalNamespace {
    /// Whether the epoch and the versions of tags are still `epoch` and `tags`.
    pub(crate) fn still_at(&self, epoch: u64, tags: &[(u64, u64)]) -> bool {
        epoch == self.epoch()
            && (tags.iter()).all(|&(tag, version)| self.tags.version(tag) == Some(version))
    }
}

/// What the local tier keys a tag by: the hash of its name. A call's tags
/// and a `clean`'s must be hashed alike, so both go through here.
pub(crate) fn tag_hash(tag: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(tag.as_bytes())
}

/// An atomic alone on its cache line (128 bytes: adjacent-line prefetch
/// pairs 64-byte lines).
#[repr(align(128))]
struct Padded(AtomicU64);

/// A new version: random, so that no two are alike in practice.
fn new_version() -> u64 {
    fastrand::u64(..)
}

/// Tag versions by hash of the tag's name. Two names with one hash share a
/// version: cleaning one drops entries of both (never a stale read).
struct TagVersions {
    versions: RwLock<HashMap<u64, u64>>,
    /// Past this many tags, all versions are dropped at once: their entries
    /// become misses (a burst of misses instead of unbounded memory).
    max: usize,
}

impl TagVersions {
    fn new(max: usize) -> TagVersions {
        TagVersions {
            versions: RwLock::new(HashMap::new()),
            max: max.max(1),
        }
    }

    fn version(&self, tag: u64) -> Option<u64> {
        self.versions.read().get(&tag).copied()
    }

    fn version_or_new(&self, tag: u64) -> u64 {
        if let Some(version) = self.version(tag) {
            return version;
        }
        let mut versions = self.versions.write();
        if versions.len() >= self.max && !versions.contains_key(&tag) {
            versions.clear();
        }
        *versions.entry(tag).or_insert_with(new_version)
    }

    fn drop_versions(&self, tags: impl IntoIterator<Item = u64>) {
        let mut versions = self.versions.write();
        for tag in tags {
            versions.remove(&tag);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.versions.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(namespace: &LocalNamespace, tags: &[u64]) -> Header {
        let checked = namespace.invalidations.cleans();
        let (epoch, pairs) = namespace.versions_now(tags);
        Header::new(None, epoch, &pairs, checked)
    }

    #[test]
    fn a_clean_of_a_tag_drops_only_the_entries_tagged_with_it() {
        let namespace = LocalNamespace::new("app", 100);
        let a = header(&namespace, &[1]);
        let b = header(&namespace, &[2]);
        let untagged = header(&namespace, &[]);
        assert!(namespace.current(&a) && namespace.current(&b) && namespace.current(&untagged));
        namespace.clean_tags([1]);
        namespace.invalidations.cleaned();
        assert!(!namespace.current(&a));
        assert!(namespace.current(&b));
        assert!(namespace.current(&untagged));
        assert_eq!(b.checked_through(), Some(1), "checked once after the clean");
        let again = header(&namespace, &[1]);
        assert!(namespace.current(&again), "a new version for the tag");
        assert!(!namespace.current(&a), "the old one is never current again");
    }

    #[test]
    fn an_untagged_entry_is_a_miss_as_soon_as_the_epoch_moves() {
        // Its one version is the epoch, compared on every hit: no count of
        // cleans stands in front of it.
        let namespace = LocalNamespace::new("app", 100);
        let untagged = header(&namespace, &[]);
        assert!(untagged.checked_through().is_none());
        namespace.new_epoch();
        assert!(!namespace.current(&untagged), "before the clean is counted");
    }

    #[test]
    fn a_new_epoch_drops_every_entry() {
        let namespace = LocalNamespace::new("app", 100);
        let entries = [header(&namespace, &[]), header(&namespace, &[3])];
        namespace.new_epoch();
        namespace.invalidations.cleaned();
        assert!(entries.iter().all(|entry| !namespace.current(entry)));
    }

    #[test]
    fn a_clean_between_the_count_and_the_versions_is_seen() {
        // A computation notes the count, then a clean happens, then it reads
        // the versions: it computed under the new versions, noted as current
        // through the old count, so its first hit checks them, and they hold.
        let namespace = LocalNamespace::new("app", 100);
        let checked = namespace.invalidations.cleans();
        namespace.clean_tags([9]);
        namespace.invalidations.cleaned();
        let (epoch, pairs) = namespace.versions_now(&[9]);
        let entry = Header::new(None, epoch, &pairs, checked);
        assert!(namespace.current(&entry));
        // Versions read before a clean, with the count before it: a miss.
        let checked = namespace.invalidations.cleans();
        let (epoch, pairs) = namespace.versions_now(&[9]);
        namespace.clean_tags([9]);
        namespace.invalidations.cleaned();
        let stale = Header::new(None, epoch, &pairs, checked);
        assert!(!namespace.current(&stale));
    }

    #[test]
    fn tag_versions_stay_bounded_and_a_dropped_version_is_a_miss() {
        let namespace = LocalNamespace::new("app", 10);
        let first = header(&namespace, &[0]);
        for tag in 1..=25 {
            header(&namespace, &[tag]);
            assert!(namespace.tags.len() <= 10);
        }
        // Dropped to stay bounded: once a clean makes entries check, the
        // entry of the dropped tag is a miss.
        namespace.clean_tags([1000]);
        namespace.invalidations.cleaned();
        assert!(!namespace.current(&first));
    }

    #[test]
    fn namespaces_have_their_own_scopes() {
        let a = LocalNamespace::new("a", 10);
        let b = LocalNamespace::new("b", 10);
        assert_ne!(a.scope(5), b.scope(5));
        assert_ne!(a.scope(5), 0);
    }
}
