//! Storage commands: `set`, and the compare-and-set of `replace_if` (`add`
//! over nothing seen, `cas` with the cas id read with the seen value), each
//! with the release of a held lock in the same write.

use std::time::Duration;

use super::locks::{push_md, NotedLock};
use super::protocol::{push_store, read_deleted, read_stored, StoreReply};
use super::values::decode;
use super::{keys, MemcachedBackend};
use crate::backend::Value;
use crate::{Error, ErrorKind, Result};

/// One storage command: what [`MemcachedBackend::store`] sends.
pub(super) struct Store<'a> {
    /// `set`, `add` or `cas`.
    pub(super) command: &'static str,
    /// The key as the cache named it, for errors.
    pub(super) key: &'a str,
    /// The key as sent (see `keys::wire_key`), and the server that holds it.
    pub(super) wire_key: &'a str,
    pub(super) server: usize,
    /// The value's bytes, before compression.
    pub(super) data: &'a [u8],
    pub(super) ttl: Option<Duration>,
    /// The cas id a `cas` command compares with.
    pub(super) cas: Option<u64>,
}

impl MemcachedBackend {
    /// One storage command and its answer; with `release`, the lock's `md` goes
    /// in the same write (or, when the lock is on another server, in a request
    /// to that server written before either answer is read). Says whether the
    /// release was sent and answered.
    pub(super) fn store(
        &self,
        store: &Store<'_>,
        release: Option<&NotedLock<'_>>,
    ) -> Result<(StoreReply, bool)> {
        let (command, wire_key, server) = (store.command, store.wire_key, store.server);
        let (payload, flags) = self.encode(store.data);
        if self.too_large(server, wire_key, payload.len()) {
            return Err(self.not_stored_oversized(store.key, server, payload.len()));
        }
        let exptime = keys::exptime(store.ttl);
        let push = |out: &mut Vec<u8>| {
            push_store(out, command, wire_key, flags, exptime, &payload, store.cas)
        };
        let stored = match release {
            None => self.round_trip(server, command, push, read_stored)?,
            Some(lock) if lock.server == server => self.round_trip(
                server,
                "store, md (unlock)",
                |out| {
                    push(out);
                    push_md(out, &lock.wire, lock.cas);
                },
                |conn| {
                    let stored = read_stored(conn)?;
                    read_deleted(conn)?;
                    Ok(stored)
                },
            )?,
            Some(lock) => {
                let store = self.send(server, command, push)?;
                let md = self.send(lock.server, "md (unlock)", |out| {
                    push_md(out, &lock.wire, lock.cas)
                })?;
                let stored = self.receive(store, read_stored)?;
                self.receive(md, read_deleted)?;
                stored
            }
        };
        self.store_failure(store, payload.len(), stored)
            .map(|stored| (stored, release.is_some()))
    }

    /// The answer to a storage command, or the error it says: `TooLarge` for
    /// a value over the item size limit, `Backend` for any other server error.
    pub(super) fn store_failure(
        &self,
        store: &Store<'_>,
        len: usize,
        reply: StoreReply,
    ) -> Result<StoreReply> {
        match reply {
            StoreReply::TooLarge => Err(self.not_stored_oversized(store.key, store.server, len)),
            StoreReply::ServerError(message) => {
                let address = &self.servers[store.server].address;
                Err(Error::new(
                    ErrorKind::Backend,
                    format!(
                        "memcached {address}: {} of {:?} failed: {message}",
                        store.command, store.key
                    ),
                )
                .at_server(address, store.command))
            }
            reply => Ok(reply),
        }
    }

    /// The storage command a compare-and-set of `key` needs: `add` when
    /// nothing was seen, `cas` with the cas id read with `seen` (noted, or
    /// read again). `None`: the key no longer holds `seen`, nothing to send.
    pub(super) fn compare_and_set<'a>(
        &self,
        key: &'a str,
        wire_key: &'a str,
        seen: Option<&Value>,
        data: &'a [u8],
        ttl: Option<Duration>,
    ) -> Result<Option<Store<'a>>> {
        let server = self.ring.server_of(wire_key);
        let (command, cas) = match seen {
            None => ("add", None),
            Some(seen) => {
                let Some(seen) = seen.as_bytes() else {
                    return Ok(None);
                };
                let cas = match self.cas_notes.recall(wire_key, seen) {
                    Some(cas) => cas,
                    // Not noted (evicted from the notes, or not an entry): read it again.
                    None => match self.gets_one(server, wire_key)? {
                        Some(item) => {
                            let cas = item.cas;
                            if decode(item) != seen {
                                return Ok(None);
                            }
                            cas
                        }
                        None => return Ok(None),
                    },
                };
                if cas == 0 {
                    return Ok(None);
                }
                ("cas", Some(cas))
            }
        };
        Ok(Some(Store {
            command,
            key,
            wire_key,
            server,
            data,
            ttl,
            cas,
        }))
    }

    /// Compare-and-set of `key` (see [`Backend::replace_if`](crate::Backend::replace_if)),
    /// sending `release` along with the store when there is one to send.
    /// Returns (stored, released).
    pub(super) fn replace_if_releasing(
        &self,
        key: &str,
        seen: Option<&Value>,
        data: &[u8],
        ttl: Option<Duration>,
        release: Option<&NotedLock<'_>>,
    ) -> Result<(bool, bool)> {
        let wire = keys::wire_key(key);
        let Some(store) = self.compare_and_set(key, &wire, seen, data, ttl)? else {
            return Ok((false, false));
        };
        let (stored, released) = self.store(&store, release)?;
        Ok((stored == StoreReply::Stored, released))
    }
}
