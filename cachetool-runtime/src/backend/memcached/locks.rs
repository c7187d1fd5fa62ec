//! The dogpile lock on memcached: taken with `add` (in `begin_load`), its cas
//! id noted then, and released with a meta delete `md lock C{cas}` that
//! memcached performs only if the lock is still the item we took.

use std::borrow::Cow;
use std::collections::HashMap;

use bytes::Bytes;
use parking_lot::Mutex;
use xxhash_rust::xxh3::xxh3_64;

use super::protocol::read_deleted;
use super::{keys, MemcachedBackend};
use crate::backend::HeldLock;
use crate::Result;

/// Notes kept at most; more (locks never released: should not happen) clear them,
/// and `unlock` then reads the lock again.
const MAX_LOCK_NOTES: usize = 4096;

/// The cas id of each lock this backend took, by (hash of its wire key, token).
#[derive(Default)]
pub(super) struct LockNotes {
    cas_by_lock: Mutex<HashMap<(u64, u64), u64>>,
}

impl LockNotes {
    /// Notes that the lock `wire_key` was taken with `token` and has cas id `cas`.
    pub(super) fn taken(&self, wire_key: &str, token: u64, cas: u64) {
        let mut notes = self.cas_by_lock.lock();
        if notes.len() >= MAX_LOCK_NOTES {
            notes.clear();
        }
        notes.insert((xxh3_64(wire_key.as_bytes()), token), cas);
    }

    /// The cas id noted for the lock `wire_key` taken with `token`, consumed.
    fn take(&self, wire_key: &str, token: u64) -> Option<u64> {
        self.cas_by_lock
            .lock()
            .remove(&(xxh3_64(wire_key.as_bytes()), token))
    }
}

/// A lock this backend took, with the cas id it had then.
pub(super) struct NotedLock<'k> {
    pub(super) server: usize,
    pub(super) wire: Cow<'k, str>,
    pub(super) cas: u64,
}

impl MemcachedBackend {
    /// The lock `lock` as this backend took it: its server, wire key and the
    /// cas id noted in `begin_load` (the note is consumed). `None` when no cas
    /// id was noted (another instance took it, or the note was dropped).
    pub(super) fn noted_lock<'k>(&self, lock: HeldLock<'k>) -> Option<NotedLock<'k>> {
        let wire = keys::wire_key(lock.key);
        let cas = self.lock_notes.take(&wire, lock.token)?;
        Some(NotedLock {
            server: self.ring.server_of(&wire),
            wire,
            cas,
        })
    }

    /// `md {lock} C{cas}`: deletes the lock only if it is still the item we took.
    pub(super) fn release_noted(&self, lock: &NotedLock<'_>) -> Result<()> {
        self.round_trip(
            lock.server,
            "md (unlock)",
            |out| push_md(out, &lock.wire, lock.cas),
            read_deleted,
        )
        .map(drop)
    }

    /// [`Backend::unlock`](crate::Backend::unlock): by the noted cas id, or,
    /// with none noted, after a `gets` that finds the lock still holds `token`.
    pub(super) fn release(&self, key: &str, token: u64) -> Result<()> {
        let wire = keys::wire_key(key);
        let server = self.ring.server_of(&wire);
        let cas = match self.lock_notes.take(&wire, token) {
            Some(cas) => cas,
            None => {
                // Taken by another instance, or the note was lost: check the token first.
                let item = self.gets_one(server, &wire)?;
                match item {
                    Some(item) if item.data == token_bytes(token) => item.cas,
                    _ => return Ok(()),
                }
            }
        };
        // Deletes only if the lock is still the item we took: an expired lock
        // that another caller took since has another cas id.
        self.release_noted(&NotedLock { server, wire, cas })
    }
}

/// Appends `md {key} C{cas}`: a meta delete that memcached performs only if the
/// item still has that cas id.
pub(super) fn push_md(out: &mut Vec<u8>, wire_key: &str, cas: u64) {
    out.extend_from_slice(b"md ");
    out.extend_from_slice(wire_key.as_bytes());
    out.extend_from_slice(b" C");
    out.extend_from_slice(itoa::Buffer::new().format(cas).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A lock's value: its token in decimal.
pub(super) fn token_bytes(token: u64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(token).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meta_delete_names_the_cas_id() {
        let mut out = Vec::new();
        push_md(&mut out, "lock:k", 18_446_744_073_709_551_615);
        assert_eq!(out, b"md lock:k C18446744073709551615\r\n");
        assert_eq!(token_bytes(7), &b"7"[..]);
    }

    #[test]
    fn a_lock_note_is_taken_once_and_only_with_its_token() {
        let notes = LockNotes::default();
        notes.taken("lock:k", 7, 42);
        assert_eq!(notes.take("lock:k", 8), None);
        assert_eq!(notes.take("lock:k", 7), Some(42));
        assert_eq!(notes.take("lock:k", 7), None);
    }
}
