//! The namespace epoch of a cache in this process's memory, known without a
//! lookup.
//!
//! Every call checks the epoch (what `clean_all` moves on). In the memory
//! backend, reading it is a lock of the epoch's shard: one lock that every
//! call of every thread takes, whatever its key. Instead, the cache keeps the
//! epoch's version with the generation of its shard when it was read (see
//! [`MemoryBackend::generation`]): while that generation stays the same,
//! nothing in the shard was written, so the version is still the epoch's.
//! A call then reads three atomics that only a write of that shard changes.

use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::Arc;

use crate::backend::{MemoryBackend, ShardIndex};
use crate::codec;

/// The epoch of one cache in a [`MemoryBackend`], as last read.
pub(crate) struct LocalEpoch {
    backend: Arc<MemoryBackend>,
    shard: ShardIndex,
    /// A sequence lock over the two values below: odd while they are being
    /// written, so a reader never pairs one write's generation with
    /// another's version.
    sequence: AtomicU64,
    generation: AtomicU64,
    version: AtomicU64,
}

/// No shard ever has this many writes: a generation that no read matches.
const NEVER: u64 = u64::MAX;

impl LocalEpoch {
    pub(crate) fn new(backend: Arc<MemoryBackend>, epoch_key: &str) -> LocalEpoch {
        LocalEpoch {
            shard: backend.shard_of(epoch_key),
            backend,
            sequence: AtomicU64::new(0),
            generation: AtomicU64::new(NEVER),
            version: AtomicU64::new(0),
        }
    }

    /// The epoch's version: as last read if its shard has not been written
    /// since, else read again (and kept). `None` if the epoch key is absent
    /// or expires (then the caller reads it with the entry, as for any backend).
    pub(crate) fn version(&self, epoch_key: &str) -> Option<u64> {
        let generation = self.backend.generation(self.shard);
        if let Some(version) = self.kept(generation) {
            return Some(version);
        }
        let (generation, value) = self.backend.read_version(epoch_key)?;
        let version = codec::version_of(&value);
        self.keep(generation, version);
        Some(version)
    }

    /// The version kept, if it was read at `generation`.
    fn kept(&self, generation: u64) -> Option<u64> {
        let before = self.sequence.load(Ordering::Acquire);
        if before % 2 == 1 {
            return None;
        }
        let kept_generation = self.generation.load(Ordering::Relaxed);
        let version = self.version.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        let unchanged = self.sequence.load(Ordering::Relaxed) == before;
        (unchanged && kept_generation == generation).then_some(version)
    }

    /// Keeps `version`, read at `generation`, unless another caller is keeping
    /// one right now (then theirs stands; both are as good).
    fn keep(&self, generation: u64, version: u64) {
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

    #[test]
    fn follows_every_write_of_the_epoch() {
        let backend = Arc::new(MemoryBackend::new(10_000));
        let epoch = LocalEpoch::new(Arc::clone(&backend), "app:epoch");
        assert_eq!(epoch.version("app:epoch"), None, "no epoch yet");
        backend.set("app:epoch", version("1"), None).unwrap();
        let first = epoch.version("app:epoch");
        assert_eq!(first, Some(codec::version_of(&version("1"))));
        assert_eq!(epoch.version("app:epoch"), first, "kept");
        backend.set("app:epoch", version("2"), None).unwrap();
        assert_eq!(
            epoch.version("app:epoch"),
            Some(codec::version_of(&version("2")))
        );
        backend.delete_many(&["app:epoch"]).unwrap();
        assert_eq!(epoch.version("app:epoch"), None, "deleted");
    }

    #[test]
    fn a_kept_version_is_used_only_while_its_shard_is_unwritten() {
        let backend = Arc::new(MemoryBackend::new(10_000));
        let epoch = LocalEpoch::new(Arc::clone(&backend), "app:epoch");
        backend.set("app:epoch", version("1"), None).unwrap();
        let shard = backend.shard_of("app:epoch");
        assert!(epoch.version("app:epoch").is_some());
        let generation = backend.generation(shard);
        assert!(epoch.kept(generation).is_some());
        // A write of another key of the same shard: the kept version is not trusted.
        let neighbour = (0..)
            .map(|index| format!("key{index}"))
            .find(|key| backend.shard_of(key) == shard)
            .unwrap();
        backend.set(&neighbour, version("x"), None).unwrap();
        assert!(epoch.kept(backend.generation(shard)).is_none());
        // Reads are not writes.
        assert!(epoch.version("app:epoch").is_some());
        backend.get_many(&[&neighbour, "app:epoch"]).unwrap();
        assert!(epoch.kept(backend.generation(shard)).is_some());
    }

    #[test]
    fn an_epoch_that_expires_is_never_kept() {
        let backend = Arc::new(MemoryBackend::new(10_000));
        let epoch = LocalEpoch::new(Arc::clone(&backend), "app:epoch");
        let ttl = Some(std::time::Duration::from_secs(60));
        backend.set("app:epoch", version("1"), ttl).unwrap();
        assert_eq!(epoch.version("app:epoch"), None);
    }
}
