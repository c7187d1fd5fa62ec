//! `begin_load` in one write per server: `add` the lock, `add` each missing
//! version, then `gets` the versions, the entry and the lock; the lock's cas
//! id is noted for its release.

use bytes::Bytes;

use super::keys::{self, wire_keys};
use super::locks::token_bytes;
use super::protocol::{push_gets, push_store, read_gets, read_stored, Item, StoreReply};
use super::values::bytes_of;
use super::MemcachedBackend;
use crate::backend::{LoadStart, LockRequest, Value};
use crate::{Error, ErrorKind, Result};

impl MemcachedBackend {
    /// See [`Backend::begin_load`](crate::Backend::begin_load).
    pub(super) fn begin(
        &self,
        lock: Option<LockRequest<'_>>,
        version_keys: &[&str],
        new_versions: &[Value],
        entry_key: &str,
    ) -> Result<LoadStart> {
        if new_versions.len() != version_keys.len() {
            return Err(Error::new(
                ErrorKind::Codec,
                "begin_load needs one candidate version per version key",
            ));
        }
        let count = version_keys.len();
        // Read, in this order: the versions, the entry, the lock.
        let mut wire = wire_keys(version_keys);
        wire.push(keys::wire_key(entry_key));
        let entry_at = count;
        let lock_at = lock.map(|lock| {
            wire.push(keys::wire_key(lock.key));
            count + 1
        });
        let token = lock.map(|lock| token_bytes(lock.token));
        let lock_exptime = keys::exptime(lock.map(|lock| lock.ttl));
        let candidates = new_versions
            .iter()
            .map(|version| bytes_of(version, "a tag version"))
            .collect::<Result<Vec<&[u8]>>>()?;

        let groups = self.by_server(&wire);
        let mut pending = Vec::with_capacity(groups.len());
        for (server, indices) in &groups {
            pending.push(self.send(*server, "add, gets (begin_load)", |out| {
                for &index in indices {
                    if Some(index) == lock_at {
                        let token = token.as_deref().unwrap_or_default();
                        push_store(out, "add", &wire[index], 0, lock_exptime, token, None);
                    } else if index < count {
                        push_store(out, "add", &wire[index], 0, 0, candidates[index], None);
                    }
                }
                push_gets(out, indices.iter().map(|&index| &*wire[index]));
            })?);
        }

        let mut locked = false;
        let mut items: Vec<Option<Item>> = (0..wire.len()).map(|_| None).collect();
        for ((_, indices), pending) in groups.iter().zip(pending) {
            let asked: Vec<&str> = indices.iter().map(|&index| &*wire[index]).collect();
            let (lock_stored, found) = self.receive(pending, |conn| {
                let mut lock_stored = false;
                for &index in indices {
                    if Some(index) == lock_at {
                        lock_stored = read_stored(conn)? == StoreReply::Stored;
                    } else if index < count {
                        // STORED, NOT_STORED, or a server error: the read below says what is there.
                        read_stored(conn)?;
                    }
                }
                Ok((lock_stored, read_gets(conn, &asked)?))
            })?;
            locked |= lock_stored;
            for (&index, item) in indices.iter().zip(found) {
                items[index] = item;
            }
        }

        if let (Some(lock_at), Some(lock), true) = (lock_at, lock, locked) {
            if let Some(item) = items[lock_at].take() {
                if Some(&item.data) == token.as_ref() {
                    self.lock_notes.taken(&wire[lock_at], lock.token, item.cas);
                }
            }
        }
        let mut items = items.into_iter();
        let versions = items
            .by_ref()
            .take(count)
            .zip(candidates)
            .enumerate()
            .map(|(index, (item, candidate))| match item {
                Some(item) => self.value_of(&wire[index], item),
                // Evicted right after creation: the candidate is as good as any.
                None => Value::Bytes(Bytes::copy_from_slice(candidate)),
            })
            .collect();
        let entry = items
            .next()
            .flatten()
            .map(|item| self.value_of(&wire[entry_at], item));
        Ok(LoadStart::new(locked, versions, entry))
    }
}
