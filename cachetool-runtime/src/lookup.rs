//! One call of a cached function: look up its entry, and on a miss compute it
//! once (in this process and across processes), store it and hand it on.

use std::any::Any;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use crate::__private::Cacheable;
use crate::backend::{LoadStart, LockRequest, Value};
use crate::cache::{Cache, Inner};
use crate::codec;
use crate::flight::{Joined, LeaderGuard, Waited};
use crate::key::{KeyPart, Site};
use crate::{Error, ErrorKind, Result};

/// Everything one call needs, built before the body runs so that it owns its
/// keys and borrows none of the arguments.
pub struct Request<'c> {
    cache: &'c Cache,
    site: &'static Site,
    entry_key: String,
    tag_keys: Vec<String>,
    ttl: Option<Duration>,
    /// Why the arguments could not be made into a key, if they could not.
    unkeyable: Option<String>,
}

/// What the first read found.
enum Found<T> {
    Hit(T),
    Miss(Miss),
    /// The backend failed: compute without storing.
    Failed,
}

/// A miss, with what is needed to store the value computed next.
struct Miss {
    /// The versions of the epoch and each tag, if all exist.
    versions: Option<Vec<u64>>,
    /// The entry as read: the store happens only if it is still that.
    seen: Option<Value>,
}

/// Longest pause between two attempts to take another process's lock.
const MAX_POLL_PAUSE: Duration = Duration::from_millis(50);
const FIRST_POLL_PAUSE: Duration = Duration::from_millis(2);
/// How long a tombstone outlives an invalidation (at most; less with a shorter
/// entry TTL): it only has to outlast the computations in flight at that time.
const TOMBSTONE_TTL: Duration = Duration::from_secs(3600);

impl<'c> Request<'c> {
    /// Builds the keys of one call. `self_type` is `Self` for methods with a
    /// receiver, keyed where the function path alone does not tell types apart.
    pub fn new(
        cache: &'c Cache,
        site: &'static Site,
        self_type: Option<&'static str>,
        generics: &[&'static str],
        key: KeyPart,
        tags: &[&str],
        ttl: Option<Duration>,
    ) -> Request<'c> {
        let namespace = &cache.inner.namespace;
        let self_type = self_type.filter(|self_type| site.keys_self(self_type));
        let entry_key = namespace.entry_key(site.path(), self_type, generics, &key);
        Request {
            cache,
            site,
            tag_keys: tags.iter().map(|tag| namespace.tag_key(tag)).collect(),
            entry_key,
            ttl: ttl.or(cache.inner.default_ttl),
            unkeyable: match key {
                KeyPart::Unkeyable(reason) => Some(reason),
                KeyPart::Hash(_) | KeyPart::Custom(_) => None,
            },
        }
    }

    /// The cached value, or the body's, stored for the next call.
    pub fn get_or_compute<R: Cacheable>(self, body: impl FnOnce() -> R) -> R {
        never_fails(self.get_or_compute_ok(|| Ok::<R, Infallible>(body())))
    }

    /// The same for a body returning `Result`: only `Ok` is stored.
    pub fn get_or_compute_ok<T: Cacheable, E>(
        self,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        if self.unkeyable.is_some() {
            return self.load(body);
        }
        let mut body = Some(body);
        let mut take_body = || body.take().expect("the body runs at most once");
        loop {
            let miss = match self.lookup::<T>() {
                Found::Hit(value) => return Ok(value),
                Found::Failed => return self.load(take_body()),
                Found::Miss(miss) => miss,
            };
            if !self.site.lock() {
                return self.load_and_store(miss, take_body());
            }
            match self.inner().flights.join(&self.entry_key) {
                Joined::Leader(flight) => return self.lead(flight, take_body()),
                // The outer call of this same key stores; this one only computes.
                Joined::Reentrant => return self.load(take_body()),
                Joined::Waiter(waiter) => {
                    match waiter.wait(Instant::now() + self.inner().lock_timeout) {
                        Waited::Value(shared) => match shared.downcast_ref::<T>() {
                            Some(value) => return Ok(value.clone()),
                            None => return self.load_and_store(miss, take_body()),
                        },
                        // The leader panicked or failed: look again, and perhaps lead.
                        Waited::Abandoned => continue,
                        Waited::TimedOut => return self.load_and_store(miss, take_body()),
                    }
                }
            }
        }
    }

    /// Runs the body now, stores its value and returns it.
    pub fn refresh<R: Cacheable>(self, body: impl FnOnce() -> R) -> R {
        never_fails(self.refresh_ok(|| Ok::<R, Infallible>(body())))
    }

    /// The same for a body returning `Result`: only `Ok` is stored.
    pub fn refresh_ok<T: Cacheable, E>(self, body: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        if self.unkeyable.is_some() {
            return self.load(body);
        }
        let miss = self.versions_now();
        self.load_and_store(miss, body)
    }

    /// Drops this call's entry, and keeps any computation of it that started
    /// before from storing: it leaves a tombstone that such a store won't
    /// replace, for the entry's TTL or an hour, whichever is shorter.
    pub fn invalidate(self) -> Result<()> {
        if let Some(reason) = &self.unkeyable {
            return Err(Error::new(
                ErrorKind::Codec,
                format!("the arguments could not be encoded as a key: {reason}"),
            ));
        }
        let inner = self.inner();
        let ttl = self.ttl.map_or(TOMBSTONE_TTL, |ttl| ttl.min(TOMBSTONE_TTL));
        inner
            .backend
            .set(&self.entry_key, codec::tombstone(inner.objects), Some(ttl))
    }

    fn inner(&self) -> &'c Inner {
        &self.cache.inner
    }

    /// The epoch's key, then each tag's.
    fn version_keys(&self) -> Vec<&str> {
        let mut keys = Vec::with_capacity(1 + self.tag_keys.len());
        keys.push(self.inner().namespace.epoch_key());
        keys.extend(self.tag_keys.iter().map(String::as_str));
        keys
    }

    /// One read of the entry and every version it depends on.
    fn lookup<T: Cacheable>(&self) -> Found<T> {
        let inner = self.inner();
        let mut keys = Vec::with_capacity(2 + self.tag_keys.len());
        keys.push(self.entry_key.as_str());
        keys.push(inner.namespace.epoch_key());
        keys.extend(self.tag_keys.iter().map(String::as_str));
        let values = match inner.backend.get_many(&keys) {
            Ok(values) if values.len() == keys.len() => values,
            Ok(values) => {
                let error = wrong_count(inner.backend.name(), keys.len(), values.len());
                return self.failed_lookup(&error);
            }
            Err(error) => return self.failed_lookup(&error),
        };
        let mut values = values.into_iter();
        let seen = values.next().flatten();
        let versions: Option<Vec<u64>> = values
            .map(|value| value.as_ref().map(codec::version_of))
            .collect();
        if let (Some(entry), Some(versions)) = (&seen, &versions) {
            if let Some(value) = codec::decode::<T>(entry, versions) {
                inner.counters.hit();
                return Found::Hit(value);
            }
        }
        inner.counters.miss();
        Found::Miss(Miss { versions, seen })
    }

    fn failed_lookup<T>(&self, error: &Error) -> Found<T> {
        self.cache.backend_failed("get", &self.entry_key, error);
        self.inner().counters.miss();
        Found::Failed
    }

    /// Creates missing versions and reads them, with the entry, taking `lock` if asked.
    fn begin_load(&self, lock: Option<LockRequest<'_>>) -> Result<(LoadStart, Vec<u64>)> {
        let backend = &self.inner().backend;
        let keys = self.version_keys();
        let candidates: Vec<Value> = keys.iter().map(|_| codec::new_version()).collect();
        let start = backend.begin_load(lock, &keys, &candidates, &self.entry_key)?;
        if start.versions.len() != keys.len() {
            return Err(wrong_count(
                backend.name(),
                keys.len(),
                start.versions.len(),
            ));
        }
        let versions = start.versions.iter().map(codec::version_of).collect();
        Ok((start, versions))
    }

    /// The versions as they are now, created where missing, and the entry.
    fn versions_now(&self) -> Miss {
        match self.begin_load(None) {
            Ok((start, versions)) => Miss {
                versions: Some(versions),
                seen: start.entry,
            },
            Err(error) => {
                self.cache
                    .backend_failed("begin_load", &self.entry_key, &error);
                Miss {
                    versions: None,
                    seen: None,
                }
            }
        }
    }

    /// The one caller of this process computing the key: take the shared lock
    /// (or wait for the process holding it), compute, store, hand on.
    fn lead<T: Cacheable, E>(
        &self,
        flight: LeaderGuard<'_>,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let inner = self.inner();
        let lock_key = inner.namespace.lock_key(&self.entry_key);
        let token = fastrand::u64(..);
        let deadline = Instant::now() + inner.lock_timeout;
        let mut pause = FIRST_POLL_PAUSE;
        // Ends by the deadline: each turn either breaks, returns, or sleeps toward it.
        let (miss, locked) = loop {
            let lock = LockRequest {
                key: &lock_key,
                token,
                ttl: inner.lock_timeout,
            };
            match self.begin_load(Some(lock)) {
                Err(error) => {
                    self.cache
                        .backend_failed("begin_load", &self.entry_key, &error);
                    break (
                        Miss {
                            versions: None,
                            seen: None,
                        },
                        false,
                    );
                }
                Ok((start, versions)) => {
                    // Stored by another caller since our read? Then it is ours too.
                    let stored = start
                        .entry
                        .as_ref()
                        .and_then(|entry| codec::decode::<T>(entry, &versions));
                    if let Some(value) = stored {
                        if start.locked {
                            self.unlock(&lock_key, token);
                        }
                        flight.finish(|| share(&value));
                        return Ok(value);
                    }
                    let now = Instant::now();
                    if start.locked || now >= deadline {
                        let miss = Miss {
                            versions: Some(versions),
                            seen: start.entry,
                        };
                        break (miss, start.locked);
                    }
                    let jittered = pause.mul_f64(0.5 + fastrand::f64());
                    std::thread::sleep(jittered.min(deadline - now));
                    pause = (pause * 2).min(MAX_POLL_PAUSE);
                }
            }
        };
        // Released when this scope ends, by a panic in the body too.
        let release = locked.then(|| LockRelease {
            request: self,
            key: &lock_key,
            token,
        });
        let outcome = self.load_and_store(miss, body);
        drop(release);
        if let Ok(value) = &outcome {
            flight.finish(|| share(value));
        }
        outcome
    }

    fn load_and_store<T: Cacheable, E>(
        &self,
        miss: Miss,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let Miss { versions, seen } = match miss.versions {
            Some(_) => miss,
            None => self.versions_now(),
        };
        let outcome = self.load(body);
        if let (Ok(value), Some(versions)) = (&outcome, versions) {
            self.store(&versions, seen.as_ref(), value);
        }
        outcome
    }

    /// Runs the body, timing it.
    fn load<T, E>(&self, body: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let started = Instant::now();
        let outcome = body();
        self.inner()
            .counters
            .load(started.elapsed(), outcome.is_err());
        outcome
    }

    /// Stores `value`, computed under `versions`, unless the entry changed since
    /// it was read as `seen` (an invalidation, or another caller's store).
    fn store<T: Cacheable>(&self, versions: &[u64], seen: Option<&Value>, value: &T) {
        let inner = self.inner();
        if self.ttl == Some(Duration::ZERO) {
            return;
        }
        let entry = match codec::encode(inner.objects, versions, value) {
            Ok(entry) => entry,
            Err(reason) => {
                let error = Error::new(
                    ErrorKind::Codec,
                    format!("the value could not be encoded: {reason}"),
                );
                self.cache.backend_failed("encode", &self.entry_key, &error);
                return;
            }
        };
        if let Value::Bytes(bytes) = &entry {
            if bytes.len() > inner.max_value_size {
                inner.counters.oversized();
                tracing::debug!(
                    key = %self.entry_key,
                    size = bytes.len(),
                    max = inner.max_value_size,
                    "cachetool: value larger than the maximum value size; not stored"
                );
                return;
            }
        }
        if let Err(error) = inner
            .backend
            .replace_if(&self.entry_key, seen, entry, self.ttl)
        {
            self.cache.backend_failed("store", &self.entry_key, &error);
        }
    }

    fn unlock(&self, lock_key: &str, token: u64) {
        if let Err(error) = self.inner().backend.unlock(lock_key, token) {
            self.cache.backend_failed("unlock", lock_key, &error);
        }
    }
}

/// Releases a held lock when dropped.
struct LockRelease<'r, 'c> {
    request: &'r Request<'c>,
    key: &'r str,
    token: u64,
}

impl Drop for LockRelease<'_, '_> {
    fn drop(&mut self) {
        self.request.unlock(self.key, self.token);
    }
}

fn share<T: Cacheable>(value: &T) -> std::sync::Arc<dyn Any + Send + Sync> {
    std::sync::Arc::new(value.clone())
}

fn never_fails<T>(outcome: Result<T, Infallible>) -> T {
    match outcome {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

fn wrong_count(backend: &str, asked: usize, got: usize) -> Error {
    Error::new(
        ErrorKind::Backend,
        format!("the {backend} backend returned {got} values for {asked} keys"),
    )
}
