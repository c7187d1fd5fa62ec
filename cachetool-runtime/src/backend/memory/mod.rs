//! The in-process backend: the local tier (`local/`), which `#[cached]`
//! functions of a cache built on it use directly, keyed by call identity,
//! with typed values. The [`Backend`] trait's string keys, for code that
//! uses the backend as any other (a wrapper, a test), live in the same
//! store, in a keyspace of their own.

mod url;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;

use super::{Backend, HeldLock, LoadStart, LockRequest, Value};
use crate::local::{clock, entry, EntryKey, Header, LocalTier};
use crate::Result;

pub(crate) use url::capacity_of;

/// Keeps values in this process, as typed objects: a hit clones the value out
/// and neither serializes nor deserializes.
///
/// Entries are spread over shards, each behind a read-write lock: a hit
/// takes a read lock and sets the entry's access bit, so threads reading the
/// same keys do not wait for each other. A full shard evicts the entries
/// least likely to be used again (quick_cache's CLOCK-based policy with a
/// ghost list of recently evicted keys): a burst of keys used once does not
/// push out keys used again and again. Expired entries are never returned
/// and are dropped when read or evicted.
///
/// Caches built on one `MemoryBackend` with the same prefix share their
/// entries, tag versions and computations in flight.
pub struct MemoryBackend {
    tier: Arc<LocalTier>,
    /// Serializes read-then-write sequences of the [`Backend`] trait's string
    /// keys (compare-and-set, locks, versions made when missing), by key hash.
    raw_writes: [Mutex<()>; RAW_STRIPES],
}

const RAW_STRIPES: usize = 16;

impl MemoryBackend {
    /// A backend that holds at most `capacity` entries (of every namespace,
    /// and keys written through the [`Backend`] trait, together). A capacity
    /// of 0 is raised to 1.
    pub fn new(capacity: usize) -> MemoryBackend {
        MemoryBackend {
            tier: Arc::new(LocalTier::new(capacity)),
            raw_writes: std::array::from_fn(|_| Mutex::new(())),
        }
    }

    /// The most entries this backend holds.
    pub fn capacity(&self) -> usize {
        self.tier.capacity()
    }

    /// How many entries it holds now, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.tier.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The store that caches built on this backend use directly.
    pub(crate) fn tier(&self) -> &Arc<LocalTier> {
        &self.tier
    }

    fn raw_stripe(&self, key: &EntryKey) -> parking_lot::MutexGuard<'_, ()> {
        self.raw_writes[key.spread() as usize % RAW_STRIPES].lock()
    }

    fn read(&self, key: &str) -> Option<Value> {
        self.tier.value::<Value>(&EntryKey::raw(key))
    }

    fn write(&self, key: EntryKey, value: Value, ttl: Option<Duration>) {
        let header = Header::new(ttl, 0, &[], 0);
        self.tier.insert(key, entry(header, value));
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
        Ok(keys.iter().map(|key| self.read(key)).collect())
    }

    fn read_each(&self, keys: &[&str], each: &mut dyn FnMut(Option<Value>)) -> Result<()> {
        for key in keys {
            each(self.read(key));
        }
        Ok(())
    }

    fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()> {
        let key = EntryKey::raw(key);
        let _writing = self.raw_stripe(&key);
        self.write(key, value, ttl);
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
            let key = EntryKey::raw(key);
            let _writing = self.raw_stripe(&key);
            // The entry expired or not: a value that expired after it was
            // read has not been replaced by anyone.
            let unchanged = self
                .tier
                .peek_expired_too(&key, |slot| match seen {
                    Some(seen) => slot.value::<Value>().is_some_and(|v| v.is_same(seen)),
                    None => slot.header.expired(clock::now()),
                })
                .unwrap_or(seen.is_none());
            if unchanged {
                self.write(key, value, ttl);
            }
            unchanged
        };
        // The entry's stripe is released first: the lock key may be in another
        // stripe, and holding two at once could deadlock. Waiters that see the
        // lock gone find the value already stored.
        if let Some(lock) = release {
            self.unlock(lock.key, lock.token)?;
        }
        Ok(unchanged)
    }

    fn delete_many(&self, keys: &[&str]) -> Result<()> {
        for key in keys {
            let key = EntryKey::raw(key);
            let _writing = self.raw_stripe(&key);
            self.tier.remove(&key);
        }
        Ok(())
    }

    fn unlock(&self, key: &str, token: u64) -> Result<()> {
        let key = EntryKey::raw(key);
        let _writing = self.raw_stripe(&key);
        let held = self
            .tier
            .value::<Value>(&key)
            .is_some_and(|value| value.is_same(&lock_token(token)));
        if held {
            self.tier.remove(&key);
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
            let key = EntryKey::raw(lock.key);
            let _writing = self.raw_stripe(&key);
            let free = self.tier.read_fresh(&key, |_| Some(())).is_none();
            if free {
                self.write(key, lock_token(lock.token), Some(lock.ttl));
            }
            free
        });
        let versions = version_keys
            .iter()
            .zip(new_versions)
            .map(|(key, candidate)| {
                let key = EntryKey::raw(key);
                let _writing = self.raw_stripe(&key);
                if let Some(existing) = self.tier.value::<Value>(&key) {
                    return existing;
                }
                self.write(key, candidate.clone(), None);
                candidate.clone()
            })
            .collect();
        Ok(LoadStart::new(locked, versions, self.read(entry_key)))
    }
}

// Tests of the shared store: `local/tests.rs`.
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
    fn capacity_holds_for_string_keys() {
        for capacity in [1, 10, 1002, 16_447] {
            let backend = MemoryBackend::new(capacity);
            for index in 0..capacity * 4 {
                backend
                    .set(&format!("key{index}"), bytes("x"), None)
                    .unwrap();
            }
            assert!(backend.len() <= capacity, "{capacity}: {}", backend.len());
        }
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
    fn a_lock_is_released_only_by_its_owner_and_with_the_store() {
        let backend = MemoryBackend::new(100);
        let take = |token| {
            let lock = LockRequest::new("l", token, Duration::from_secs(60));
            backend
                .begin_load(Some(lock), &[], &[], "e")
                .unwrap()
                .locked
        };
        let held = |token| Some(HeldLock::new("l", token));
        assert!(take(1));
        assert!(!take(2));
        backend.unlock("l", 2).unwrap();
        assert!(!take(3), "a lock is released only with its own token");
        assert!(backend
            .replace_if("e", None, bytes("1"), None, held(1))
            .unwrap());
        assert!(take(4), "the lock went with the store");
        assert!(!backend
            .replace_if("e", None, bytes("2"), None, held(4))
            .unwrap());
        assert!(take(5), "released although nothing was stored");
    }

    #[test]
    fn begin_load_creates_missing_versions_without_overwriting() {
        let backend = MemoryBackend::new(10);
        backend.set("t1", bytes("old"), None).unwrap();
        let start = backend
            .begin_load(None, &["t1", "t2"], &[bytes("new1"), bytes("new2")], "e")
            .unwrap();
        let versions: Vec<_> = (start.versions.iter())
            .map(|v| v.as_bytes().unwrap().to_vec())
            .collect();
        assert_eq!(versions, [b"old".to_vec(), b"new2".to_vec()]);
        assert!(!start.locked);
        assert!(start.entry.is_none());
    }
}
