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
//! | `unlock` | `md lock C{cas}` (meta delete, only if the cas id is still the one read with our token) |
//!
//! See `docs/memcached.md` for why this speaks the protocol itself rather than
//! through the `memcache` crate's clients.

mod admin;
mod conn;
#[cfg(test)]
mod decode_fuzz;
mod keys;
mod notes;
mod ring;
mod url;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use xxhash_rust::xxh3::xxh3_64;

use self::conn::{
    push_gets, push_number, push_store, read_deleted, read_gets, read_gets_with, read_stats,
    read_stored, Checkout, Conn, Item, Server, StoreReply,
};
use self::notes::CasNotes;
use self::ring::Ring;
use super::{Backend, ConnectOptions, HeldLock, LoadStart, LockRequest, ServerStats, Value};
use crate::{Error, ErrorKind, Result};

/// Memcached's default largest item, used until the server says otherwise.
const DEFAULT_ITEM_SIZE_MAX: usize = 1 << 20;
/// The smallest `item_size_max` memcached accepts: values this small never need asking.
const MIN_ITEM_SIZE_MAX: usize = 1024;
/// What memcached adds to a value in an item (header, cas, key terminator, `\r\n`), generously.
const ITEM_OVERHEAD: usize = 96;
/// The client flag of an LZ4-compressed value (block format, little-endian u32 size first).
const FLAG_LZ4: u32 = 1 << 16;
/// The largest value we decompress: a guard against garbage claiming a huge size.
const MAX_DECOMPRESSED: usize = 1 << 30;

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
    /// The cas id of each lock this process took, by (key hash, token), for `unlock`.
    lock_notes: Mutex<HashMap<(u64, u64), u64>>,
}

impl MemcachedBackend {
    /// A backend for `url` (`memcache://host:port[,host:port...][?compress_over=BYTES]`).
    /// Only checks the URL and `options` (a zero timeout is a
    /// [`Config`](ErrorKind::Config) error): host names are resolved and
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
            lock_notes: Mutex::new(HashMap::new()),
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

    // ---- One request per server ----

    /// Writes a request to `server`; its answer is read by [`receive`](Self::receive).
    fn send(
        &self,
        server: usize,
        what: &'static str,
        build: impl FnOnce(&mut Vec<u8>),
    ) -> Result<Pending> {
        let mut checkout = self.servers[server]
            .checkout(&self.options)
            .map_err(|error| self.io_error(server, what, "connecting", error))?;
        checkout.conn.out.clear();
        build(&mut checkout.conn.out);
        self.round_trips.fetch_add(1, Relaxed);
        if let Err(error) = checkout.conn.send() {
            if !(checkout.pooled && is_closed(&error)) {
                return Err(self.io_error(server, what, "sending", error));
            }
            checkout = self.resend(server, what, checkout)?;
        }
        Ok(Pending {
            server,
            what,
            checkout,
        })
    }

    /// Reads the answer to a request with `read`. A pooled connection that the
    /// server had closed (a restart) before answering anything is replaced and
    /// the request sent again, once.
    fn receive<T>(
        &self,
        mut pending: Pending,
        mut read: impl FnMut(&mut Conn) -> io::Result<T>,
    ) -> Result<T> {
        loop {
            match read(&mut pending.checkout.conn) {
                Ok(answer) => {
                    self.servers[pending.server].checkin(pending.checkout.conn);
                    return Ok(answer);
                }
                Err(error) => {
                    let checkout = pending.checkout;
                    if checkout.pooled && !checkout.conn.answered() && is_closed(&error) {
                        pending.checkout = self.resend(pending.server, pending.what, checkout)?;
                        continue;
                    }
                    return Err(self.io_error(
                        pending.server,
                        pending.what,
                        "reading the answer",
                        error,
                    ));
                }
            }
        }
    }

    fn round_trip<T>(
        &self,
        server: usize,
        what: &'static str,
        build: impl FnOnce(&mut Vec<u8>),
        read: impl FnMut(&mut Conn) -> io::Result<T>,
    ) -> Result<T> {
        let pending = self.send(server, what, build)?;
        self.receive(pending, read)
    }

    /// Sends the request of a dead pooled connection on a new one; the other
    /// idle connections of the server are likely dead too and are dropped.
    fn resend(&self, server: usize, what: &'static str, dead: Checkout) -> Result<Checkout> {
        tracing::debug!(
            server = %self.servers[server].address,
            "cachetool: a pooled memcached connection was closed; reconnecting"
        );
        self.servers[server].drop_idle();
        let mut conn = self.servers[server]
            .dial(&self.options)
            .map_err(|error| self.io_error(server, what, "reconnecting", error))?;
        conn.out = dead.conn.out;
        self.round_trips.fetch_add(1, Relaxed);
        conn.send()
            .map_err(|error| self.io_error(server, what, "sending", error))?;
        Ok(Checkout {
            conn,
            pooled: false,
        })
    }

    fn io_error(&self, server: usize, what: &str, doing: &str, error: io::Error) -> Error {
        let kind = match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Backend,
        };
        let address = &self.servers[server].address;
        Error::with_source(
            kind,
            format!("memcached {address}: {what}: {doing} failed"),
            error,
        )
        .at_server(address, what)
    }

    /// The indices of `keys` that each involved server holds, in order.
    fn by_server(&self, keys: &[Cow<'_, str>]) -> Vec<(usize, Vec<usize>)> {
        if self.servers.len() == 1 {
            return vec![(0, (0..keys.len()).collect())];
        }
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for (index, key) in keys.iter().enumerate() {
            let server = self.ring.server_of(key);
            match groups.iter_mut().find(|(held_by, _)| *held_by == server) {
                Some((_, indices)) => indices.push(index),
                None => groups.push((server, vec![index])),
            }
        }
        groups
    }

    // ---- Values ----

    /// The value an item holds (decompressed), noting its cas id if it is an entry.
    fn value_of(&self, wire_key: &str, item: Item) -> Value {
        let cas = item.cas;
        let data = decode(item);
        self.cas_notes.remember(wire_key, &data, cas);
        Value::Bytes(data)
    }

    /// The bytes to store for `data`, and their flags.
    fn encode<'v>(&self, data: &'v [u8]) -> (Cow<'v, [u8]>, u32) {
        if let Some(threshold) = self.compress_over {
            if data.len() >= threshold {
                let compressed = lz4_flex::block::compress_prepend_size(data);
                if compressed.len() < data.len() {
                    return (Cow::Owned(compressed), FLAG_LZ4);
                }
            }
        }
        (Cow::Borrowed(data), 0)
    }

    /// Whether `len` bytes under `wire_key` are over the server's item size limit.
    fn too_large(&self, server: usize, wire_key: &str, len: usize) -> bool {
        let size = len + wire_key.len() + ITEM_OVERHEAD;
        size > MIN_ITEM_SIZE_MAX && size > self.item_size_max(server)
    }

    /// `item_size_max` of `server`, read from `stats settings` once.
    fn item_size_max(&self, server: usize) -> usize {
        if let Some(&max) = self.servers[server].item_size_max.get() {
            return max;
        }
        let settings = self.round_trip(
            server,
            "stats settings",
            |out| out.extend_from_slice(b"stats settings\r\n"),
            read_stats,
        );
        let max = settings.ok().and_then(|settings| {
            settings
                .iter()
                .find(|(name, _)| name == "item_size_max")
                .and_then(|(_, value)| value.parse::<usize>().ok())
        });
        match max {
            Some(max) => *self.servers[server].item_size_max.get_or_init(|| max),
            None => DEFAULT_ITEM_SIZE_MAX,
        }
    }

    /// One `gets` of one key on `server`: the item (with its cas id), if it is there.
    fn gets_one(&self, server: usize, wire: &str) -> Result<Option<Item>> {
        let asked = [wire];
        let mut items = self.round_trip(
            server,
            "gets",
            |out| push_gets(out, asked),
            |conn| read_gets(conn, &asked),
        )?;
        Ok(items.pop().flatten())
    }

    /// Counts a value over the server's item size limit, and says so with an
    /// error of kind `TooLarge`, which a `Cache` counts in `Stats::oversized`.
    fn not_stored_oversized(&self, key: &str, server: usize, len: usize) -> Error {
        self.oversized.fetch_add(1, Relaxed);
        Error::new(
            ErrorKind::TooLarge,
            format!(
                "memcached {}: a value of {len} bytes for {key:?} is over the item size limit; not stored",
                self.servers[server].address
            ),
        )
    }

    /// One storage command and its answer; with `release`, the lock's `md` goes
    /// in the same write (or, when the lock is on another server, in a request
    /// to that server written before either answer is read). Says whether the
    /// release was sent and answered.
    #[allow(clippy::too_many_arguments)]
    fn store(
        &self,
        command: &'static str,
        key: &str,
        wire_key: &str,
        server: usize,
        data: &[u8],
        ttl: Option<Duration>,
        cas: Option<u64>,
        release: Option<&NotedLock<'_>>,
    ) -> Result<(StoreReply, bool)> {
        let (payload, flags) = self.encode(data);
        if self.too_large(server, wire_key, payload.len()) {
            return Err(self.not_stored_oversized(key, server, payload.len()));
        }
        let exptime = keys::exptime(ttl);
        let push =
            |out: &mut Vec<u8>| push_store(out, command, wire_key, flags, exptime, &payload, cas);
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
        match stored {
            StoreReply::TooLarge => {
                return Err(self.not_stored_oversized(key, server, payload.len()))
            }
            StoreReply::ServerError(message) => {
                return Err(Error::new(
                    ErrorKind::Backend,
                    format!(
                        "memcached {}: {command} of {key:?} failed: {message}",
                        self.servers[server].address
                    ),
                )
                .at_server(&self.servers[server].address, command))
            }
            _ => {}
        }
        Ok((stored, release.is_some()))
    }

    /// The lock `lock` as this backend took it: its server, wire key and the
    /// cas id noted in `begin_load` (the note is consumed). `None` when no cas
    /// id was noted (another instance took it, or the note was dropped).
    fn noted_lock<'k>(&self, lock: HeldLock<'k>) -> Option<NotedLock<'k>> {
        let wire = keys::wire_key(lock.key);
        let cas = self
            .lock_notes
            .lock()
            .remove(&(xxh3_64(wire.as_bytes()), lock.token))?;
        Some(NotedLock {
            server: self.ring.server_of(&wire),
            wire,
            cas,
        })
    }

    /// Compare-and-set of `key` (see [`Backend::replace_if`]), sending `release`
    /// along with the store when there is one to send. Returns (stored, released).
    fn replace_if_releasing(
        &self,
        key: &str,
        seen: Option<&Value>,
        data: &[u8],
        ttl: Option<Duration>,
        release: Option<&NotedLock<'_>>,
    ) -> Result<(bool, bool)> {
        let wire = keys::wire_key(key);
        let server = self.ring.server_of(&wire);
        let (stored, released) = match seen {
            None => self.store("add", key, &wire, server, data, ttl, None, release)?,
            Some(seen) => {
                let Some(seen) = seen.as_bytes() else {
                    return Ok((false, false));
                };
                let cas = match self.cas_notes.recall(&wire, seen) {
                    Some(cas) => cas,
                    // Not noted (evicted from the notes, or not an entry): read it again.
                    None => {
                        let item = self.gets_one(server, &wire)?;
                        match item {
                            Some(item) => {
                                let cas = item.cas;
                                if decode(item) != seen {
                                    return Ok((false, false));
                                }
                                cas
                            }
                            None => return Ok((false, false)),
                        }
                    }
                };
                if cas == 0 {
                    return Ok((false, false));
                }
                self.store("cas", key, &wire, server, data, ttl, Some(cas), release)?
            }
        };
        Ok((stored == StoreReply::Stored, released))
    }

    /// `md {lock} C{cas}`: deletes the lock only if it is still the item we took.
    fn release_noted(&self, lock: &NotedLock<'_>) -> Result<()> {
        self.round_trip(
            lock.server,
            "md (unlock)",
            |out| push_md(out, &lock.wire, lock.cas),
            read_deleted,
        )
        .map(drop)
    }
}

/// A lock this backend took, with the cas id it had then.
struct NotedLock<'k> {
    server: usize,
    wire: Cow<'k, str>,
    cas: u64,
}

/// Appends `md {key} C{cas}`: a meta delete that memcached performs only if the
/// item still has that cas id.
fn push_md(out: &mut Vec<u8>, wire_key: &str, cas: u64) {
    out.extend_from_slice(b"md ");
    out.extend_from_slice(wire_key.as_bytes());
    out.extend_from_slice(b" C");
    let at = out.len();
    push_number(out, cas);
    out.remove(at); // push_number writes a leading space
    out.extend_from_slice(b"\r\n");
}

/// A request written to a server, its answer not read yet.
struct Pending {
    server: usize,
    /// The commands, for errors.
    what: &'static str,
    checkout: Checkout,
}

/// Whether an I/O error says the server closed the connection (rather than timing out).
fn is_closed(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
    )
}

/// The bytes of a stored item: decompressed if flagged so and well-formed, else as stored
/// (another client's value reads as a miss and is overwritten, never an error).
fn decode(item: Item) -> Bytes {
    if item.flags & FLAG_LZ4 != 0 {
        if let Some(plain) = decompress(&item.data) {
            return Bytes::from(plain);
        }
    }
    item.data
}

fn decompress(data: &[u8]) -> Option<Vec<u8>> {
    let size = u32::from_le_bytes(data.get(..4)?.try_into().ok()?) as usize;
    // LZ4 expands at most 255-fold: a bigger claim is not LZ4.
    if size > MAX_DECOMPRESSED || size > (data.len() - 4).saturating_mul(255) + 16 {
        return None;
    }
    lz4_flex::block::decompress_size_prepended(data).ok()
}

fn bytes_of<'v>(value: &'v Value, what: &str) -> Result<&'v [u8]> {
    value.as_bytes().ok_or_else(|| {
        Error::new(
            ErrorKind::Codec,
            format!("memcached stores bytes, not objects ({what})"),
        )
    })
}

fn wire_keys<'k>(keys: &[&'k str]) -> Vec<Cow<'k, str>> {
    keys.iter().map(|key| keys::wire_key(key)).collect()
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
        let server = self.ring.server_of(&wire);
        self.store("set", key, &wire, server, data, ttl, None, None)?;
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
        let data = bytes_of(&value, key)?;
        let noted = release.and_then(|lock| self.noted_lock(lock));
        let (stored, released) = self.replace_if_releasing(key, seen, data, ttl, noted.as_ref())?;
        // Nothing was sent with the store (not stored, or no cas id noted): release now.
        if let (Some(lock), false) = (release, released) {
            match &noted {
                Some(noted) => self.release_noted(noted)?,
                None => self.unlock(lock.key, lock.token)?,
            }
        }
        Ok(stored)
    }

    fn delete_many(&self, keys: &[&str]) -> Result<()> {
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

    fn unlock(&self, key: &str, token: u64) -> Result<()> {
        let wire = keys::wire_key(key);
        let server = self.ring.server_of(&wire);
        let noted = self
            .lock_notes
            .lock()
            .remove(&(xxh3_64(wire.as_bytes()), token));
        let cas = match noted {
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
        self.round_trip(
            server,
            "md (unlock)",
            |out| push_md(out, &wire, cas),
            read_deleted,
        )?;
        Ok(())
    }

    fn begin_load(
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
                    let mut notes = self.lock_notes.lock();
                    if notes.len() >= 4096 {
                        notes.clear(); // Unreleased notes (should not happen): unlock re-reads.
                    }
                    notes.insert((xxh3_64(wire[lock_at].as_bytes()), lock.token), item.cas);
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
        Ok(LoadStart {
            locked,
            versions,
            entry,
        })
    }

    fn server_stats(&self) -> Result<ServerStats> {
        let mut total = ServerStats::default();
        let mut first_error = None;
        for server in 0..self.servers.len() {
            let stats = match self.round_trip(
                server,
                "stats",
                |out| out.extend_from_slice(b"stats\r\n"),
                read_stats,
            ) {
                Ok(stats) => stats,
                Err(error) => {
                    first_error.get_or_insert(error);
                    continue;
                }
            };
            total.servers += 1;
            for (name, value) in stats {
                let value = value.parse::<u64>().unwrap_or(0);
                match name.as_str() {
                    "get_hits" => total.hits += value,
                    "get_misses" => total.misses += value,
                    "curr_items" => total.items += value,
                    "bytes" => total.memory_bytes += value,
                    _ => {}
                }
            }
        }
        match first_error {
            Some(error) if total.servers == 0 => Err(error),
            _ => Ok(total),
        }
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

/// A lock's value: its token in decimal.
fn token_bytes(token: u64) -> Bytes {
    Bytes::from(token.to_string())
}
