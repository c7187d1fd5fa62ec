//! Listing and reading the keys of a Redis or Memcached server, and leaving
//! a tombstone, from outside the program that caches.

use std::any::Any;
use std::ops::ControlFlow;
use std::time::Duration;

use bytes::Bytes;

use crate::{codec, Cache, Error, ErrorKind, Result};

/// A key's value and remaining time to live, as the server holds them.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The value (decompressed, for Memcached's compressed values).
    pub bytes: Bytes,
    /// How long until it expires; `None`: no expiry.
    pub ttl: Option<Duration>,
}

/// Hands `each` every key on the cache's servers that starts with
/// `starting_with`, as the server stores it (a key too long for the server
/// in its hashed form), until `each` breaks. Redis: `SCAN ... MATCH` on the
/// server, or on every primary of a cluster, in batches: never `KEYS`, never
/// blocking the server. Memcached: `lru_crawler metadump all` on every
/// server, which walks the items in the background of the server.
///
/// A scan sees every key that exists for its whole duration at least once (a
/// Redis `SCAN` may repeat one); keys written or deleted meanwhile may or may
/// not appear. An in-memory cache can't be listed from outside its process:
/// that is a [`Config`](ErrorKind::Config) error.
pub fn scan_keys(
    cache: &Cache,
    starting_with: &str,
    each: &mut dyn FnMut(&str) -> ControlFlow<()>,
) -> Result<()> {
    let backend: &dyn Any = &**cache.backend();
    #[cfg(feature = "redis")]
    if let Some(redis) = backend.downcast_ref::<crate::RedisBackend>() {
        return redis.scan_keys(starting_with, each);
    }
    #[cfg(feature = "memcached")]
    if let Some(memcached) = backend.downcast_ref::<crate::MemcachedBackend>() {
        return memcached.scan_keys(starting_with, each);
    }
    let _ = (backend, starting_with, each);
    Err(unsupported(cache, "listed"))
}

/// The value and time to live of `key` (a cache key, or a key as
/// [`scan_keys`] lists it), or `None` if it is absent.
pub fn inspect(cache: &Cache, key: &str) -> Result<Option<Stored>> {
    let backend: &dyn Any = &**cache.backend();
    #[cfg(feature = "redis")]
    if let Some(redis) = backend.downcast_ref::<crate::RedisBackend>() {
        return redis.inspect(key);
    }
    #[cfg(feature = "memcached")]
    if let Some(memcached) = backend.downcast_ref::<crate::MemcachedBackend>() {
        return memcached.inspect(key);
    }
    let _ = (backend, key);
    Err(unsupported(cache, "read"))
}

/// Drops the entry under `key` as a generated `foo_invalidate` does: leaves
/// the tombstone that keeps any computation of it that started before from
/// storing its value, for an hour.
pub fn invalidate_entry(cache: &Cache, key: &str) -> Result<()> {
    let tombstone = codec::tombstone(cache.inner.stores_objects);
    cache
        .backend()
        .set(key, tombstone, Some(crate::call::TOMBSTONE_TTL))
}

fn unsupported(cache: &Cache, what: &str) -> Error {
    Error::new(
        ErrorKind::Config,
        format!(
            "the {} backend's keys can't be {what} from outside it (only Redis and Memcached's)",
            cache.backend().name()
        ),
    )
}
