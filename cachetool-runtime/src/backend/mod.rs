//! Where values live: the [`Backend`] trait and its implementations.
//!
//! A backend is a key-value store with a handful of atomic operations. The
//! [`Cache`](crate::Cache) decides what the keys and values mean (entries, tag
//! versions, locks); a backend only has to make each method one round trip
//! where it can.

mod args;
mod faces;
#[cfg(feature = "memcached")]
mod memcached;
mod memory;
#[cfg(feature = "redis")]
mod redis;

pub(crate) use args::each_failed;
pub use args::{HeldLock, LoadStart, LockRequest, ReplaceIf};
pub(crate) use faces::Faces;
#[cfg(feature = "memcached")]
#[cfg_attr(docsrs, doc(cfg(feature = "memcached")))]
pub use memcached::MemcachedBackend;
pub(crate) use memory::capacity_of as memory_url_capacity;
pub use memory::MemoryBackend;
#[cfg(feature = "redis")]
pub(crate) use redis::Backoff as RedisBackoff;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisBackend;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::Result;

/// A stored value.
#[non_exhaustive]
#[derive(Clone)]
pub enum Value {
    /// Bytes, as remote backends store them.
    Bytes(Bytes),
    /// A typed object, kept as it is: only backends in this process store these
    /// (see [`Backend::stores_objects`]), so that a hit neither serializes nor
    /// deserializes.
    Object(Arc<dyn Any + Send + Sync>),
}

impl Value {
    /// The bytes of a [`Value::Bytes`].
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(bytes) => Some(bytes),
            Value::Object(_) => None,
        }
    }

    /// Whether `self` is the value `other` was read as: the same object for
    /// [`Value::Object`], the same bytes for [`Value::Bytes`].
    pub fn is_same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bytes(bytes) => f.debug_tuple("Bytes").field(bytes).finish(),
            Value::Object(_) => f.write_str("Object(..)"),
        }
    }
}

impl From<Vec<u8>> for Value {
    fn from(bytes: Vec<u8>) -> Value {
        Value::Bytes(Bytes::from(bytes))
    }
}

/// How to reach a server: the builder's timeouts, handed to a remote backend.
///
/// Both must be more than zero: a remote backend's `open` refuses a zero
/// timeout with a [`Config`](crate::ErrorKind::Config) error naming it (a zero
/// timeout would make every connection fail, or, to `std`'s sockets, which
/// take "no timeout" to mean "wait forever", never time out). Any larger
/// duration works, up to [`Duration::MAX`] (in effect, no limit).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    /// The longest wait for a connection to open.
    pub connect_timeout: Duration,
    /// The longest wait for one command's answer.
    pub io_timeout: Duration,
}

impl ConnectOptions {
    /// A [`Config`](crate::ErrorKind::Config) error naming a timeout that is zero.
    pub(crate) fn check(&self) -> Result<()> {
        for (setting, timeout) in [
            ("connect_timeout", self.connect_timeout),
            ("io_timeout", self.io_timeout),
        ] {
            if timeout.is_zero() {
                return Err(crate::Error::config(format!(
                    "{setting} is zero; it must be more than zero (a zero timeout \
                     would fail every connection, or never time out)"
                )));
            }
        }
        Ok(())
    }
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            connect_timeout: Duration::from_secs(1),
            io_timeout: Duration::from_secs(1),
        }
    }
}

/// What the servers behind a backend say about themselves (Redis `INFO`,
/// Memcached `stats`), summed over all servers.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// How many servers answered.
    pub servers: usize,
    /// Reads that found their key (`keyspace_hits`, `get_hits`).
    pub hits: u64,
    /// Reads that did not (`keyspace_misses`, `get_misses`).
    pub misses: u64,
    /// Keys stored (Redis: keys of the selected databases; Memcached: `curr_items`).
    pub items: u64,
    /// Memory used for data, in bytes (`used_memory`, `bytes`).
    pub memory_bytes: u64,
}

impl ServerStats {
    /// `hits / (hits + misses)`, or 0 before the first read.
    pub fn hit_rate(&self) -> f64 {
        let reads = self.hits + self.misses;
        if reads == 0 {
            0.0
        } else {
            self.hits as f64 / reads as f64
        }
    }
}

/// The future of [`AsyncBackend::replace_if_many`]: one result per write.
pub type WritesFuture<'a> = Pin<Box<dyn Future<Output = Vec<Result<bool>>> + Send + 'a>>;

/// A key-value store that a [`Cache`](crate::Cache) keeps its entries, tag
/// versions and locks in.
///
/// Every method is one round trip on a remote store, except where its
/// documentation allows more. Implementations must be safe to call from many
/// threads at once.
pub trait Backend: std::any::Any + Send + Sync + 'static {
    /// A short name for logs and errors, such as `"memory"` or `"redis"`.
    fn name(&self) -> &str;

    /// Whether this backend keeps [`Value::Object`]s (only a backend in this process can).
    /// When false, the cache hands it only [`Value::Bytes`].
    fn stores_objects(&self) -> bool {
        false
    }

    /// Whether every method returns without waiting on a network or a disk (a
    /// store in this process's memory). Async callers call such a backend
    /// directly; any other on tokio's blocking pool, so as never to block the executor.
    ///
    /// Asked once, when a [`Cache`](crate::Cache) is built on the backend:
    /// the answer must not change.
    fn is_local(&self) -> bool {
        false
    }

    /// The backend's native async client, if it has one. Async callers await
    /// it instead of running the blocking methods on tokio's blocking pool.
    ///
    /// Asked when a [`Cache`](crate::Cache) is built on the backend, to
    /// choose how tasks reach it (a backend that offers no client then is
    /// never asked again), and on each async call: a call that finds no
    /// client runs on the blocking pool.
    fn as_async(&self) -> Option<&dyn AsyncBackend> {
        None
    }

    /// Reads `keys`; `None` for a key that is absent or expired.
    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Value>>>;

    /// Reads `keys` as [`get_many`](Backend::get_many) does, handing each value
    /// to `each` in order instead of collecting them: what the hit path calls.
    /// The default calls `get_many`; a backend in this process overrides it to
    /// allocate nothing.
    fn read_each(&self, keys: &[&str], each: &mut dyn FnMut(Option<Value>)) -> Result<()> {
        self.get_many(keys)?.into_iter().for_each(each);
        Ok(())
    }

    /// Stores `value` under `key`, for `ttl` or until evicted.
    ///
    /// A value larger than the store takes (Memcached's item size limit) is
    /// not stored: an error of kind [`TooLarge`](crate::ErrorKind::TooLarge).
    fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()>;

    /// Stores `value` under `key` only if the key still holds `seen` (`None`: is
    /// still absent), atomically. Returns whether it stored.
    ///
    /// With `release`, also releases that lock, in the same round trip where the
    /// store allows it (one script call, one pipelined request), whether or not
    /// the value was stored: a compare-and-delete of its token, as
    /// [`unlock`](Backend::unlock) does, so a lock that expired and was taken by
    /// another caller is left alone. A caller that hands its lock here does not
    /// call `unlock` after an `Ok`; after an `Err` the lock may or may not have
    /// been released, and calling `unlock` is safe.
    ///
    /// `Ok(false)` means only that the key no longer holds `seen` (an
    /// invalidation, another caller's store). A value larger than the store
    /// takes (Memcached's item size limit) is an error of kind
    /// [`TooLarge`](crate::ErrorKind::TooLarge) instead, which a
    /// [`Cache`](crate::Cache) counts in
    /// [`Stats::oversized`](crate::Stats::oversized), not as an error.
    fn replace_if(
        &self,
        key: &str,
        seen: Option<&Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<HeldLock<'_>>,
    ) -> Result<bool>;

    /// [`replace_if`](Backend::replace_if) of each of `writes`, pipelined
    /// where the store allows it (one round trip per server), with one result
    /// per write, in order. Each write keeps the whole contract of a
    /// `replace_if` call: its compare-and-set, and the release of its lock
    /// with it, stored or not (after an `Err` the lock may or may not have been
    /// released). What `{name}_many` stores its computed values with.
    ///
    /// The default calls `replace_if` for each write in turn: a backend that
    /// can send them together overrides it.
    fn replace_if_many(&self, writes: Vec<ReplaceIf<'_>>) -> Vec<Result<bool>> {
        writes
            .into_iter()
            .map(|write| {
                self.replace_if(write.key, write.seen, write.value, write.ttl, write.release)
            })
            .collect()
    }

    /// Deletes `keys`; absent keys are no error.
    fn delete_many(&self, keys: &[&str]) -> Result<()>;

    /// Deletes the lock only if it still holds `token` (compare-and-delete), so a
    /// caller never releases a lock that expired and was taken by another.
    fn unlock(&self, key: &str, token: u64) -> Result<()>;

    /// Everything a caller needs before running a function's body, in one round
    /// trip where the store allows it: take `lock` if asked and free; create each
    /// of `version_keys` that is absent with the candidate of the same index in
    /// `new_versions` (set-if-absent, without expiry, never overwriting); then read
    /// the versions and `entry_key`.
    fn begin_load(
        &self,
        lock: Option<LockRequest<'_>>,
        version_keys: &[&str],
        new_versions: &[Value],
        entry_key: &str,
    ) -> Result<LoadStart>;

    /// What the servers say about themselves; unsupported by default.
    fn server_stats(&self) -> Result<ServerStats> {
        Err(crate::Error::new(
            crate::ErrorKind::Config,
            format!("the {} backend has no server stats", self.name()),
        ))
    }
}

/// The future of an [`AsyncBackend`] method.
pub type BackendFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The data methods of [`Backend`], awaited: what a backend with a native async
/// client offers through [`Backend::as_async`], so that async callers never
/// block a thread on it.
///
/// Each method has the contract of its [`Backend`] namesake (the same round
/// trips, the same atomicity), and the two must see one store: a value written
/// by one is read by the other. The futures run on a tokio runtime.
pub trait AsyncBackend: Send + Sync + 'static {
    /// See [`Backend::get_many`].
    fn get_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, Vec<Option<Value>>>;

    /// See [`Backend::set`].
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> BackendFuture<'a, ()>;

    /// See [`Backend::replace_if`].
    fn replace_if<'a>(
        &'a self,
        key: &'a str,
        seen: Option<&'a Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<HeldLock<'a>>,
    ) -> BackendFuture<'a, bool>;

    /// See [`Backend::replace_if_many`]; the default awaits
    /// [`replace_if`](AsyncBackend::replace_if) for each write in turn.
    fn replace_if_many<'a>(&'a self, writes: Vec<ReplaceIf<'a>>) -> WritesFuture<'a> {
        Box::pin(async move {
            let mut results = Vec::with_capacity(writes.len());
            for write in writes {
                let stored =
                    self.replace_if(write.key, write.seen, write.value, write.ttl, write.release);
                results.push(stored.await);
            }
            results
        })
    }

    /// See [`Backend::delete_many`].
    fn delete_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, ()>;

    /// See [`Backend::unlock`].
    fn unlock<'a>(&'a self, key: &'a str, token: u64) -> BackendFuture<'a, ()>;

    /// See [`Backend::begin_load`].
    fn begin_load<'a>(
        &'a self,
        lock: Option<LockRequest<'a>>,
        version_keys: &'a [&'a str],
        new_versions: &'a [Value],
        entry_key: &'a str,
    ) -> BackendFuture<'a, LoadStart>;
}
