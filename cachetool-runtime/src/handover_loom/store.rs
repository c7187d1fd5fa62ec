//! The shared store of the model: one map of keys to values behind a loom
//! mutex, each method one atomic step, as a Redis script or a Memcached
//! command is. Everything a [`Cache`](crate::Cache) keeps there goes through
//! it: entries and tombstones, the epoch and tag versions, the lock.
//!
//! TTLs are not modelled (nothing expires during a model run).

use std::collections::HashMap;
use std::time::Duration;

use loom::sync::Mutex;

use crate::backend::{Backend, HeldLock, LoadStart, LockRequest, Value};
use crate::Result;

/// What two processes share: a server of the model.
pub(super) struct ModelStore {
    keys: Mutex<HashMap<String, Stored>>,
}

#[derive(Clone)]
enum Stored {
    Value(Value),
    /// A lock and the token it was taken with.
    Lock(u64),
}

impl ModelStore {
    pub(super) fn new() -> ModelStore {
        ModelStore {
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn keys(&self) -> loom::sync::MutexGuard<'_, HashMap<String, Stored>> {
        self.keys.lock().unwrap()
    }
}

fn value(stored: Option<&Stored>) -> Option<Value> {
    match stored {
        Some(Stored::Value(value)) => Some(value.clone()),
        // A lock key is never read as a value.
        Some(Stored::Lock(_)) | None => None,
    }
}

fn release(keys: &mut HashMap<String, Stored>, key: &str, token: u64) {
    if matches!(keys.get(key), Some(Stored::Lock(held)) if *held == token) {
        keys.remove(key);
    }
}

impl Backend for ModelStore {
    fn name(&self) -> &str {
        "model"
    }

    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Value>>> {
        let stored = self.keys();
        Ok(keys.iter().map(|key| value(stored.get(*key))).collect())
    }

    fn set(&self, key: &str, value: Value, _ttl: Option<Duration>) -> Result<()> {
        self.keys().insert(key.to_owned(), Stored::Value(value));
        Ok(())
    }

    fn replace_if(
        &self,
        key: &str,
        seen: Option<&Value>,
        value: Value,
        _ttl: Option<Duration>,
        held: Option<HeldLock<'_>>,
    ) -> Result<bool> {
        let mut keys = self.keys();
        let unchanged = match (keys.get(key), seen) {
            (None, None) => true,
            (Some(Stored::Value(now)), Some(seen)) => now.is_same(seen),
            _ => false,
        };
        if unchanged {
            keys.insert(key.to_owned(), Stored::Value(value));
        }
        if let Some(held) = held {
            release(&mut keys, held.key, held.token);
        }
        Ok(unchanged)
    }

    fn delete_many(&self, keys: &[&str]) -> Result<()> {
        let mut stored = self.keys();
        for key in keys {
            stored.remove(*key);
        }
        Ok(())
    }

    fn unlock(&self, key: &str, token: u64) -> Result<()> {
        release(&mut self.keys(), key, token);
        Ok(())
    }

    fn begin_load(
        &self,
        lock: Option<LockRequest<'_>>,
        version_keys: &[&str],
        new_versions: &[Value],
        entry_key: &str,
    ) -> Result<LoadStart> {
        let mut keys = self.keys();
        let locked = match lock {
            Some(lock) => {
                // Only one process of the model computes, and its flight lets
                // one caller lead at a time, each releasing the lock before its
                // flight ends: a busy lock is a second leader. (Waiting for it
                // would be a sleep loop, which loom cannot explore.)
                assert!(
                    !keys.contains_key(lock.key),
                    "two leaders of one process at once: the lock is busy"
                );
                keys.insert(lock.key.to_owned(), Stored::Lock(lock.token));
                true
            }
            None => false,
        };
        let mut versions = Vec::with_capacity(version_keys.len());
        for (key, candidate) in version_keys.iter().zip(new_versions) {
            let version = value(keys.get(*key)).unwrap_or_else(|| {
                keys.insert((*key).to_owned(), Stored::Value(candidate.clone()));
                candidate.clone()
            });
            versions.push(version);
        }
        Ok(LoadStart::new(locked, versions, value(keys.get(entry_key))))
    }
}
