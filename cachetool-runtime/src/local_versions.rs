//! The versions of a cache in this process's memory (its epoch and tags),
//! known without a lookup.
//!
//! Every call checks the namespace epoch (what `clean_all` moves on) and its
//! tags' versions. In the memory backend, reading one is a lock of its shard:
//! the epoch's shard lock would be taken by every call of every thread,
//! whatever its key, and a popular tag's by every call tagged with it.
//! Instead, a cache keeps each version it reads with the generation of its
//! shard at the time (see [`MemoryBackend::generation`]): while that
//! generation stays the same, nothing in the shard was written, so the
//! version is still the key's. A call then reads a few atomics that only a
//! write of that shard changes.

use std::cell::Cell;
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::Arc;

use crate::backend::{MemoryBackend, Place};
use crate::codec;

/// The versions of one cache in a [`MemoryBackend`], as last read: a table of
/// [`SLOTS`] slots, each key in the slot its hash picks (a newer key takes
/// the place of an older one of the same slot, which is then read again when
/// next needed).
pub(crate) struct LocalVersions {
    backend: Arc<MemoryBackend>,
    slots: Box<[KeptVersion]>,
    /// Where the namespace epoch's key is: read on every call, hashed once.
    epoch: Place,
}

/// How many versions a cache keeps: its epoch and its busiest tags.
const SLOTS: usize = 512;

/// One version as read: the key's hash, the shard's generation at the time,
/// and the version, under a sequence lock (odd while being written, so that
/// a reader never pairs one write's generation with another's version).
/// Alone on its cache line: the epoch's slot is read by every call, and
/// should not share a line with a slot being rewritten.
#[derive(Default)]
#[repr(align(64))]
struct KeptVersion {
    sequence: AtomicU64,
    key_hash: AtomicU64,
    generation: AtomicU64,
    version: AtomicU64,
}

impl LocalVersions {
    pub(crate) fn new(backend: Arc<MemoryBackend>, epoch_key: &str) -> LocalVersions {
        LocalVersions {
            epoch: backend.place_of(epoch_key),
            backend,
            slots: (0..SLOTS).map(|_| KeptVersion::empty()).collect(),
        }
    }

    /// The version of the namespace epoch, whose key is `epoch_key`: see [`version`](LocalVersions::version).
    pub(crate) fn epoch_version(&self, epoch_key: &str, touch: bool) -> Option<u64> {
        self.version_at(epoch_key, self.epoch, touch)
    }

    /// The version of `key`: as last read if its shard has not been written
    /// since (and not `touch`: see [`time_to_touch`]), else read again (and
    /// kept). `None` if the key is absent or expires (then the caller reads it
    /// with the entry, as for any backend).
    pub(crate) fn version(&self, key: &str, touch: bool) -> Option<u64> {
        self.version_at(key, self.backend.place_of(key), touch)
    }

    fn version_at(&self, key: &str, place: Place, touch: bool) -> Option<u64> {
        // The shard index is the hash's bits 32 and up, the map's the low bits:
        // the slot takes bits in between.
        let slot = &self.slots[(place.hash() >> 16) as usize % SLOTS];
        let generation = self.backend.generation(place);
        if !touch {
            if let Some(version) = slot.kept(place.hash(), generation) {
                return Some(version);
            }
        }
        let (generation, value) = self.backend.read_version(key)?;
        let version = codec::version_of(&value);
        slot.keep(place.hash(), generation, version);
        Some(version)
    }
}

/// Whether this call should read its versions from the backend although they
/// are kept: one call in [`TOUCH_EVERY`] of each thread does (for all its
/// versions: deciding per version, a call's tags would fall on the same turns). A read counts
/// as a use of the key for the eviction policy, which otherwise would see a
/// busy tag or epoch as unused (its readers use the kept version) and might
/// evict it, and with it every entry that depends on it.
pub(crate) fn time_to_touch() -> bool {
    thread_local! {
        static CALLS: Cell<u32> = const { Cell::new(0) };
    }
    CALLS
        .try_with(|calls| {
            let next = calls.get().wrapping_add(1);
            calls.set(next);
            next % TOUCH_EVERY == 0
        })
        .unwrap_or(true)
}

const TOUCH_EVERY: u32 = 64;

impl KeptVersion {
    /// A slot that no read matches: no shard ever has `u64::MAX` writes.
    fn empty() -> KeptVersion {
        KeptVersion {
            generation: AtomicU64::new(u64::MAX),
            ..KeptVersion::default()
        }
    }

    /// The version kept, if it is `key_hash`'s, read at `generation`.
    fn kept(&self, key_hash: u64, generation: u64) -> Option<u64> {
        let before = self.sequence.load(Ordering::Acquire);
        if before % 2 == 1 {
            return None;
        }
        let kept_hash = self.key_hash.load(Ordering::Relaxed);
        let kept_generation = self.generation.load(Ordering::Relaxed);
        let version = self.version.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        let unchanged = self.sequence.load(Ordering::Relaxed) == before;
        (unchanged && kept_hash == key_hash && kept_generation == generation).then_some(version)
    }

    /// Keeps `version` of `key_hash`, read at `generation`, unless another
    /// caller is keeping one here right now (then theirs stands).
    fn keep(&self, key_hash: u64, generation: u64, version: u64) {
        let before = self.sequence.load(Ordering::Relaxed);
        if before % 2 == 1
            || self
                .sequence
                .compare_exchange(before, before + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        fence(Ordering::Release);
        self.key_hash.store(key_hash, Ordering::Relaxed);
        self.generation.store(generation, Ordering::Relaxed);
        self.version.store(version, Ordering::Relaxed);
        self.sequence.store(before + 2, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, Value};

    fn version(text: &str) -> Value {
        Value::from(text.as_bytes().to_vec())
    }

    fn version_of(text: &str) -> Option<u64> {
        Some(codec::version_of(&version(text)))
    }

    #[test]
    fn follows_every_write_of_a_version() {
        let backend = Arc::new(MemoryBackend::new(10_000));
        let versions = LocalVersions::new(Arc::clone(&backend), "app:epoch");
        assert_eq!(
            versions.epoch_version("app:epoch", false),
            None,
            "no epoch yet"
        );
        backend.set("app:epoch", version("1"), None).unwrap();
        assert_eq!(versions.epoch_version("app:epoch", false), version_of("1"));
        assert_eq!(
            versions.epoch_version("app:epoch", false),
            version_of("1"),
            "kept"
        );
        assert_eq!(versions.version("app:epoch", false), version_of("1"));
        backend.set("app:epoch", version("2"), None).unwrap();
        assert_eq!(versions.epoch_version("app:epoch", false), version_of("2"));
        backend.delete_many(&["app:epoch"]).unwrap();
        assert_eq!(versions.epoch_version("app:epoch", false), None, "deleted");
    }

    #[test]
    fn a_kept_version_is_used_only_while_its_shard_is_unwritten() {
        let backend = Arc::new(MemoryBackend::new(10_000));
        let versions = LocalVersions::new(Arc::clone(&backend), "app:epoch");
        backend.set("app:tag:a", version("1"), None).unwrap();
        let place = backend.place_of("app:tag:a");
        let slot = &versions.slots[(place.hash() >> 16) as usize % SLOTS];
        assert!(versions.version("app:tag:a", false).is_some());
        assert!(slot.kept(place.hash(), backend.generation(place)).is_some());
        // A write of another key of the same shard: the kept version is not trusted.
        let neighbour = (0..)
            .map(|index| format!("key{index}"))
            .find(|key| backend.place_of(key).shard() == place.shard())
            .unwrap();
        backend.set(&neighbour, version("x"), None).unwrap();
        assert!(slot.kept(place.hash(), backend.generation(place)).is_none());
        // Reads are not writes.
        assert!(versions.version("app:tag:a", false).is_some());
        backend.get_many(&[&neighbour, "app:tag:a"]).unwrap();
        assert!(slot.kept(place.hash(), backend.generation(place)).is_some());
    }

    #[test]
    fn keys_sharing_a_slot_each_get_their_own_version() {
        let backend = Arc::new(MemoryBackend::new(10_000));
        let versions = LocalVersions::new(Arc::clone(&backend), "app:epoch");
        let slot_of = |key: &str| (backend.place_of(key).hash() >> 16) as usize % SLOTS;
        let first = "app:tag:0".to_owned();
        let second = (1..)
            .map(|index| format!("app:tag:{index}"))
            .find(|key| slot_of(key) == slot_of(&first))
            .unwrap();
        backend.set(&first, version("first"), None).unwrap();
        backend.set(&second, version("second"), None).unwrap();
        for _ in 0..3 {
            assert_eq!(versions.version(&first, false), version_of("first"));
            assert_eq!(versions.version(&second, false), version_of("second"));
        }
    }

    #[test]
    fn a_version_that_expires_is_never_kept() {
        let backend = Arc::new(MemoryBackend::new(10_000));
        let versions = LocalVersions::new(Arc::clone(&backend), "app:epoch");
        let ttl = Some(std::time::Duration::from_secs(60));
        backend.set("app:epoch", version("1"), ttl).unwrap();
        assert_eq!(versions.version("app:epoch", false), None);
    }
}
