//! What the [`Backend`](super::Backend) methods take and give besides keys
//! and values: a lock to take, a lock held, what `begin_load` found, one
//! write of `replace_if_many`. Each is `#[non_exhaustive]`, made with its
//! `new`, its fields public for backends to read.

use std::time::Duration;

use super::Value;
use crate::Result;

/// A lock to take: `SET key token NX PX ttl`.
///
/// Made with [`LockRequest::new`]; its fields are public for backends to read,
/// and more may come (hence `#[non_exhaustive]`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy)]
pub struct LockRequest<'a> {
    /// The lock's key.
    pub key: &'a str,
    /// A random token that only this caller knows; release needs it.
    pub token: u64,
    /// After this the lock frees itself, so a crashed holder blocks nobody for longer.
    pub ttl: Duration,
}

impl<'a> LockRequest<'a> {
    /// A request for the lock `key`, taken with `token`, freeing itself after `ttl`.
    pub fn new(key: &'a str, token: u64, ttl: Duration) -> LockRequest<'a> {
        LockRequest { key, token, ttl }
    }
}

/// A lock the caller holds (taken in
/// [`Backend::begin_load`](super::Backend::begin_load)), handed to
/// [`Backend::replace_if`](super::Backend::replace_if) to be released in the
/// same round trip as the store.
///
/// Made with [`HeldLock::new`]; its fields are public for backends to read.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldLock<'a> {
    /// The lock's key, as it was given in the [`LockRequest`].
    pub key: &'a str,
    /// The token it was taken with: only a lock that still holds it is deleted.
    pub token: u64,
}

impl<'a> HeldLock<'a> {
    /// The lock `key`, as taken with `token`.
    pub fn new(key: &'a str, token: u64) -> HeldLock<'a> {
        HeldLock { key, token }
    }
}

/// What [`Backend::begin_load`](super::Backend::begin_load) found.
///
/// Made with [`LoadStart::new`] (by backends); its fields are public for the
/// cache and for tests to read.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct LoadStart {
    /// Whether the lock was taken by this caller (always false when none was asked for).
    pub locked: bool,
    /// The value of each version key after creating the missing ones, in order.
    pub versions: Vec<Value>,
    /// The entry as it is now.
    pub entry: Option<Value>,
}

impl LoadStart {
    /// What a `begin_load` found: whether it took the lock, the versions in
    /// the order of the version keys, and the entry.
    pub fn new(locked: bool, versions: Vec<Value>, entry: Option<Value>) -> LoadStart {
        LoadStart {
            locked,
            versions,
            entry,
        }
    }
}

/// One write of [`Backend::replace_if_many`](super::Backend::replace_if_many):
/// the arguments of one [`Backend::replace_if`](super::Backend::replace_if) call.
///
/// Made with [`ReplaceIf::new`]; its fields are public for backends to read.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct ReplaceIf<'a> {
    /// The entry's key.
    pub key: &'a str,
    /// What the key held when it was read (`None`: absent); the value is
    /// stored only if it still holds that.
    pub seen: Option<&'a Value>,
    /// The value to store.
    pub value: Value,
    /// How long it is kept (`None`: until evicted).
    pub ttl: Option<Duration>,
    /// A lock to release with the write, stored or not.
    pub release: Option<HeldLock<'a>>,
}

impl<'a> ReplaceIf<'a> {
    /// The write of `value` under `key` if it still holds `seen`, for `ttl`,
    /// releasing `release`: see [`Backend::replace_if`](super::Backend::replace_if).
    pub fn new(
        key: &'a str,
        seen: Option<&'a Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<HeldLock<'a>>,
    ) -> ReplaceIf<'a> {
        ReplaceIf {
            key,
            seen,
            value,
            ttl,
            release,
        }
    }
}

/// One result per write of a pipelined exchange that failed as a whole (a
/// lost connection): `error` for the first write, the same kind and text
/// for the others (an error's cause can't be copied).
pub(crate) fn each_failed(error: crate::Error, writes: usize) -> Vec<Result<bool>> {
    let text = error.to_string();
    let prefix = format!("{}: ", error.kind());
    let text = text.strip_prefix(&prefix).unwrap_or(&text);
    let copy = || {
        let copy = crate::Error::new(error.kind(), text);
        match (error.server(), error.command()) {
            (Some(server), Some(command)) => copy.at_server(server, command),
            _ => copy,
        }
    };
    let mut results: Vec<Result<bool>> = (1..writes).map(|_| Err(copy())).collect();
    if writes > 0 {
        results.insert(0, Err(error));
    }
    results
}
