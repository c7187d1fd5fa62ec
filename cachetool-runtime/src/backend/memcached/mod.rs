//! The Memcached backend: the text protocol over pooled `std` TCP connections,
//! every trait method one pipelined round trip per server involved.
//!
//! | method | commands, written at once, answers read after |
//! |---|---|
//! | `get_many` | `gets k1 k2 ...` |
//! | `begin_load` | `add lock` + `add` each version + `gets versions entry lock` |
//! | `replace_if` | `add` (nothing seen) or `cas` with the cas id read with the seen value, and `md lock C{cas}` of the lock it is handed, in the same write |
//! | `set` | `set` |
//! | `delete_many` | `delete` each key |
//! | `replace_if_many` | each write's `add` or `cas` and its lock's `md`, one request per server |
//! | `unlock` | `md lock C{cas}` (meta delete, only if the cas id is still the one read with our token) |
//!
//! Why it speaks the protocol itself rather than through the `memcache`
//! crate's clients (a hit's cost against theirs, measured): the README's
//! section "Why the protocol is spoken here, not through the memcache crate".
//!
//! - `conn.rs`: one server's pooled connections; `protocol.rs`: the commands
//!   written on them and the answers read;
//! - `transport.rs`: a request to each server involved, written before any
//!   answer is read, and the retry after a restart;
//! - `values.rs`: LZ4, the item size limit; `notes.rs`: the cas ids of the
//!   entries read, for `replace_if`;
//! - `store.rs`: `set` and the compare-and-set of `replace_if`; `locks.rs`:
//!   the dogpile lock's release; `begin.rs`: `begin_load`; `batch.rs`:
//!   `replace_if_many`;
//! - `keys.rs`, `ring.rs`, `url.rs`: keys memcached accepts, which server
//!   holds one, the URL; `stats.rs`, `admin.rs`: what operators read.

mod admin;
#[cfg(feature = "redis")]
mod backplane;
mod batch;
mod begin;
mod conn;
#[cfg(test)]
mod decode_fuzz;
mod keys;
mod locks;
mod notes;
mod protocol;
mod ring;
mod stats;
mod store;
mod transport;
mod url;
mod values;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use self::conn::Server;
use self::keys::wire_keys;
use self::locks::LockNotes;
use self::notes::CasNotes;
use self::protocol::{push_gets, read_deleted, read_gets_with};
use self::ring::Ring;
use self::store::Store;
use self::values::bytes_of;
use super::{
    Backend, ConnectOptions, HeldLock, LoadStart, LockRequest, ReplaceIf, ServerStats, Value,
};
use crate::Result;

/// Keeps entries in one or more Memcached servers.
///
/// Open it with [`MemcachedBackend::open`] (or `Cache::builder().memcached(url)`):
/// `memcache://host:port`, or `memcache://host1:port1,host2:port2` to spread
/// keys over several servers by rendezvous hashing (a server that leaves takes
/// only its own keys with it). Connections open on first use, are pooled and
/// shared by all threads, and are opened anew after a server restarts.
///
/// Every method is one round trip per server it involves: a cache hit reads
/// its entry, the namespace epoch and its tags with one `gets` (one per server
/// holding any of them, written to all before reading any answer).
///
/// Keys that Memcached would refuse (over 250 bytes, spaces, control
/// characters) are sent in a hashed form that never equals another key;
/// values over the server's `item_size_max` are not stored and are counted in
/// [`oversized`](MemcachedBackend::oversized). Values of at least
/// `compress_over` bytes (`?compress_over=65536` in the URL, or
/// [`with_compression`](MemcachedBackend::with_compression)) are stored
/// LZ4-compressed.
pub struct MemcachedBackend {
    servers: Box<[Server]>,
    ring: Ring,
    options: ConnectOptions,
    compress_over: Option<usize>,
    round_trips: AtomicU64,
    oversized: AtomicU64,
    /// The cas id each recently read entry value had, for `replace_if`.
    cas_notes: CasNotes,
    /// The cas id of each lock this backend took, for its release.
    lock_notes: LockNotes,
    /// Where its changes are announced (see `backplane`); none by default.
    #[cfg(feature = "redis")]
    backplane: Option<crate::RedisBackend>,
}

impl MemcachedBackend {
    /// A backend for `url` (`memcache://host:port[,host:port...][?compress_over=BYTES]`).
    /// Only checks the URL and `options` (a zero timeout is a
    /// [`Config`](crate::ErrorKind::Config) error): host names are resolved and
    /// connections opened on first use.
    pub fn open(url: &str, options: &ConnectOptions) -> Result<MemcachedBackend> {
        options.check()?;
        let config = url::parse(url)?;
        Ok(MemcachedBackend {
            ring: Ring::new(&config.servers),
            servers: config.servers.into_iter().map(Server::new).collect(),
            options: *options,
            compress_over: config.compress_over,
            round_trips: AtomicU64::new(0),
            oversized: AtomicU64::new(0),
            cas_notes: CasNotes::new(),
            lock_notes: LockNotes::default(),
            #[cfg(feature = "redis")]
            backplane: None,
        })
    }

    /// Stores values of at least `threshold` bytes LZ4-compressed when that makes
    /// them smaller (`None`: never, the default), so that larger results fit
    /// under the server's item size limit. Any backend reads compressed values.
    pub fn with_compression(mut self, threshold: Option<usize>) -> MemcachedBackend {
        self.compress_over = threshold.filter(|&bytes| bytes > 0);
        self
    }

    /// The compression threshold; `None`: values are stored as they are.
    pub fn compression(&self) -> Option<usize> {
        self.compress_over
    }

    /// The servers, as `host:port`, in the URL's order.
    pub fn servers(&self) -> impl Iterator<Item = &str> + '_ {
        self.servers.iter().map(|server| server.address.as_str())
    }

    /// The server (`host:port`) that holds `key`.
    pub fn server_of(&self, key: &str) -> &str {
        &self.servers[self.ring.server_of(&keys::wire_key(key))].address
    }

    /// Requests sent so far, one per server per method call (and one more for a
    /// request resent on a new connection after the server closed a pooled one).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Relaxed)
    }

    /// Values not stored because they were over the server's item size limit
    /// (`item_size_max`, after compression).
    pub fn oversized(&self) -> u64 {
        self.oversized.load(Relaxed)
    }
}

impl Backend for MemcachedBackend {
    fn name(&self) -> &str {
        "memcached"
    }

    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Value>>> {
        let wire = wire_keys(keys);
        let mut values: Vec<Option<Value>> = vec![None; keys.len()];
        if self.servers.len() == 1 {
            // The hit path: no grouping, items go straight into `values`.
            let pending = self.send(0, "gets", |out| push_gets(out, wire.iter().map(|k| &**k)))?;
            self.receive(pending, |conn| {
                read_gets_with(conn, &wire, |index, item| {
                    values[index] = Some(self.value_of(&wire[index], item));
                })
            })?;
            return Ok(values);
        }
        let groups = self.by_server(&wire);
        let mut pending = Vec::with_capacity(groups.len());
        for (server, indices) in &groups {
            pending.push(self.send(*server, "gets", |out| {
                push_gets(out, indices.iter().map(|&index| &*wire[index]))
            })?);
        }
        for ((_, indices), pending) in groups.iter().zip(pending) {
            let asked: Vec<&str> = indices.iter().map(|&index| &*wire[index]).collect();
            self.receive(pending, |conn| {
                read_gets_with(conn, &asked, |at, item| {
                    let index = indices[at];
                    values[index] = Some(self.value_of(&wire[index], item));
                })
            })?;
        }
        Ok(values)
    }

    fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()> {
        let data = bytes_of(&value, key)?;
        let wire = keys::wire_key(key);
        let store = Store {
            command: "set",
            key,
            wire_key: &wire,
            server: self.ring.server_of(&wire),
            data,
            ttl,
            cas: None,
        };
        let outcome = self.store(&store, None);
        // Announced even after an error: the value may have been stored.
        #[cfg(feature = "redis")]
        self.announce_set(key, data);
        outcome.map(drop)
    }

    fn replace_if(
        &self,
        key: &str,
        seen: Option<&Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<HeldLock<'_>>,
    ) -> Result<bool> {
        let data = bytes_of(&value, key)?;
        let noted = release.and_then(|lock| self.noted_lock(lock));
        let outcome = self.replace_if_releasing(key, seen, data, ttl, noted.as_ref());
        // Announced if stored, or perhaps stored (an error).
        #[cfg(feature = "redis")]
        if !matches!(outcome, Ok((false, _))) {
            self.announce_keys(&[key]);
        }
        let (stored, released) = outcome?;
        // Nothing was sent with the store (not stored, or no cas id noted): release now.
        if let (Some(lock), false) = (release, released) {
            match &noted {
                Some(noted) => self.release_noted(noted)?,
                None => self.unlock(lock.key, lock.token)?,
            }
        }
        Ok(stored)
    }

    /// One request per server: every storage command and lock release of
    /// the writes it holds (see `batch`).
    fn replace_if_many(&self, writes: Vec<ReplaceIf<'_>>) -> Vec<Result<bool>> {
        #[cfg(feature = "redis")]
        let keys: Vec<&str> = writes.iter().map(|write| write.key).collect();
        let results = self.replace_many(writes);
        #[cfg(feature = "redis")]
        {
            let stored: Vec<&str> = (keys.iter().zip(&results))
                .filter(|(_, result)| !matches!(result, Ok(false)))
                .map(|(key, _)| *key)
                .collect();
            self.announce_keys(&stored);
        }
        results
    }

    fn delete_many(&self, keys: &[&str]) -> Result<()> {
        let outcome = self.delete_each(keys);
        // Announced even after an error: some keys may have been deleted.
        #[cfg(feature = "redis")]
        self.announce_keys(keys);
        outcome
    }

    fn unlock(&self, key: &str, token: u64) -> Result<()> {
        self.release(key, token)
    }

    fn begin_load(
        &self,
        lock: Option<LockRequest<'_>>,
        version_keys: &[&str],
        new_versions: &[Value],
        entry_key: &str,
    ) -> Result<LoadStart> {
        self.begin(lock, version_keys, new_versions, entry_key)
    }

    fn server_stats(&self) -> Result<ServerStats> {
        self.stats()
    }
}

impl MemcachedBackend {
    /// `delete` of each key, one request per server.
    fn delete_each(&self, keys: &[&str]) -> Result<()> {
        let wire = wire_keys(keys);
        let groups = self.by_server(&wire);
        let mut pending = Vec::with_capacity(groups.len());
        for (server, indices) in &groups {
            pending.push(self.send(*server, "delete", |out| {
                for &index in indices {
                    out.extend_from_slice(b"delete ");
                    out.extend_from_slice(wire[index].as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
            })?);
        }
        for ((_, indices), pending) in groups.iter().zip(pending) {
            self.receive(pending, |conn| {
                for _ in indices {
                    read_deleted(conn)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

impl fmt::Debug for MemcachedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemcachedBackend")
            .field("servers", &self.servers().collect::<Vec<_>>())
            .field("compress_over", &self.compress_over)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
