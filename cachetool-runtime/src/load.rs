//! The work of one call, written once for threads and tasks (see `driver.rs`):
//! look up the entry, and on a miss compute it once (in this process and
//! across processes), store it and hand it on.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smallvec::SmallVec;

use crate::__private::Cacheable;
use crate::backend::{Backend, HeldLock, LoadStart, LockRequest, Value};
use crate::codec;
use crate::driver::Driver;
use crate::durations::deadline_after;
use crate::flight::{Joined, LeaderGuard, Shared, Waited};
use crate::handover::{Handed, Versions, View};
use crate::observe::Outcome;
use crate::request::Request;
use crate::{Error, ErrorKind, Result};

/// Keys and versions of one call: a function has few tags, so these stay on
/// the stack (no allocation on the hit path).
pub(crate) type Keys<'a> = SmallVec<[&'a str; 6]>;
/// The values read for [`Keys`].
type Values = SmallVec<[Option<Value>; 6]>;

/// What a lookup found.
pub(crate) enum Found<T> {
    Hit(T),
    Miss(Miss),
    /// The backend failed, or the arguments make no key: compute without storing.
    Failed,
}

/// A miss, with what is needed to store the value computed next.
pub(crate) struct Miss {
    /// The versions of the epoch and each tag, if all exist.
    versions: Option<Versions>,
    /// The entry as read: the store happens only if it is still that.
    seen: Option<Value>,
    /// What this caller's lookup read (the versions even where known without
    /// a lookup): a leader's value is handed to it only if the leader's
    /// computation started from the same (see `handover.rs`).
    view: Option<View>,
}

/// What became of a computed value's store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreOutcome {
    Stored,
    /// The backend refused it: the entry changed since it was read (an
    /// invalidation, or another caller's store, here or in another process).
    Refused,
    /// Not sent: an invalidation made through this cache overtook the computation.
    Overtaken,
    /// Not sent, or the backend failed: a zero TTL, an encoding error, an
    /// oversized value, no versions.
    NotStored,
}

impl Miss {
    /// A miss with nothing read (a local store needs nothing of its lookup).
    pub(crate) fn unread() -> Miss {
        Miss {
            versions: None,
            seen: None,
            view: None,
        }
    }
}

impl StoreOutcome {
    /// Whether the lock handed to the store was released with it.
    fn released_lock(self) -> bool {
        matches!(self, StoreOutcome::Stored | StoreOutcome::Refused)
    }

    /// Whether the value may go to the callers waiting for it: not when the
    /// entry is known to have changed under the computation.
    fn may_hand_over(self) -> bool {
        !matches!(self, StoreOutcome::Refused | StoreOutcome::Overtaken)
    }
}

/// Longest pause between two attempts to take another process's lock.
const MAX_POLL_PAUSE: Duration = Duration::from_millis(50);
const FIRST_POLL_PAUSE: Duration = Duration::from_millis(2);
/// How long a tombstone outlives an invalidation (at most; less with a shorter
/// entry TTL): it only has to outlast the computations in flight at that time.
pub(crate) const TOMBSTONE_TTL: Duration = Duration::from_secs(3600);

impl Request<'_> {
    /// The cached value, or the body's (run at most once), stored for the next call.
    ///
    /// `first`: what a first lookup found, if the caller made it. (A sync caller
    /// does, so that a hit never builds this future.)
    pub(crate) async fn get_or_load<D: Driver, T: Cacheable, E>(
        self,
        driver: &D,
        first: Option<Found<T>>,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let found = match first {
            Some(found) => found,
            None => self.lookup(driver).await,
        };
        // A hit is not observed (no span); the rest is, on the heap (see `lead_boxed`).
        let found = match found {
            Found::Hit(value) => return Ok(value),
            found => found,
        };
        if let Some(local) = self.local() {
            let after_miss = Box::pin(self.local_after_miss(driver, local, found, body));
            return self.observed(after_miss).await;
        }
        let after_miss = Box::pin(self.after_miss(driver, found, body));
        self.observed(after_miss).await
    }

    /// [`get_or_load`](Request::get_or_load) after a first lookup that found no value.
    async fn after_miss<D: Driver, T: Cacheable, E>(
        &self,
        driver: &D,
        first: Found<T>,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let inner = self.inner();
        let mut first = Some(first);
        loop {
            let found = match first.take() {
                Some(found) => found,
                None => self.lookup(driver).await,
            };
            let miss = match found {
                // Looked up again after waiting for another caller's computation.
                Found::Hit(value) => {
                    self.note(Outcome::Joined);
                    return Ok(value);
                }
                Found::Failed => return self.load(body).await,
                Found::Miss(miss) => miss,
            };
            let Some(call) = self.call.filter(|_| self.site.lock()) else {
                return self.load_and_store(driver, miss, body).await;
            };
            match inner.flights.join(call, D::PER_THREAD) {
                Joined::Leader(flight) => return self.lead_boxed(driver, flight, body).await,
                // The outer call of this same key stores; this one only computes.
                Joined::Reentrant => return self.load(body).await,
                Joined::Waiter(waiter) => {
                    self.waiting();
                    match driver
                        .wait(waiter, deadline_after(Instant::now(), inner.lock_timeout))
                        .await
                    {
                        Waited::Value(shared) => match shared.downcast_ref::<Handed<T>>() {
                            Some(handed) if handed.fits(miss.view.as_ref()) => {
                                self.note(Outcome::Joined);
                                return Ok(handed.value.clone());
                            }
                            // Computed from keys as they were before a change
                            // this caller read: look again.
                            Some(_) => continue,
                            None => return self.load_and_store(driver, miss, body).await,
                        },
                        // The leader panicked, failed or was cancelled: look again,
                        // and perhaps lead.
                        Waited::Abandoned => continue,
                        Waited::TimedOut => return self.load_and_store(driver, miss, body).await,
                    }
                }
            }
        }
    }

    /// Runs the body now, stores its value and returns it.
    pub(crate) async fn reload<D: Driver, T: Cacheable, E>(
        self,
        driver: &D,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.observed(async {
            if let Some(local) = self.local() {
                return self.local_reload(local, body).await;
            }
            if self.unkeyable.is_some() {
                return self.load(body).await;
            }
            let miss = self.versions_now(driver).await;
            self.load_and_store(driver, miss, body).await
        })
        .await
    }

    /// Leaves a tombstone under the entry's key.
    pub(crate) async fn drop_entry<D: Driver>(self, driver: &D) -> Result<()> {
        if let Some(local) = self.local() {
            return self.local_invalidate(local);
        }
        if let Some(reason) = &self.unkeyable {
            return Err(Error::new(
                ErrorKind::Codec,
                format!("the arguments could not be encoded as a key: {reason}"),
            ));
        }
        let inner = self.inner();
        let ttl = self.ttl.map_or(TOMBSTONE_TTL, |ttl| ttl.min(TOMBSTONE_TTL));
        let tombstone = codec::tombstone(inner.objects);
        if inner.backend.is_local() {
            let write = || inner.backend.set(&self.entry_key, tombstone, Some(ttl));
            return inner.invalidations.invalidate_locally(self.mark, write);
        }
        let outcome = driver
            .set(&inner.backend, &self.entry_key, tombstone, Some(ttl))
            .await;
        inner.invalidations.invalidated(self.mark);
        if let Err(error) = &outcome {
            crate::observe::returned_error(self.cache, "invalidate", &self.entry_key, error);
        }
        outcome
    }

    /// The epoch's key, then each tag's.
    fn version_keys(&self) -> Keys<'_> {
        let mut keys = Keys::new();
        keys.push(self.inner().namespace.epoch_key());
        keys.extend(self.tag_keys.iter());
        keys
    }

    /// One read of the entry and every version it depends on.
    async fn lookup<D: Driver, T: Cacheable>(&self, driver: &D) -> Found<T> {
        if let Some(local) = self.local() {
            return self.local_found(local);
        }
        if self.unkeyable.is_some() {
            return Found::Failed;
        }
        let keys = self.lookup_keys();
        let values = driver.get_many(&self.inner().backend, &keys).await;
        self.found(keys.len(), values.as_deref())
    }

    /// [`lookup`](Request::lookup), for a caller that blocks on the backend.
    #[inline]
    pub(crate) fn lookup_now<T: Cacheable>(&self) -> Found<T> {
        if let Some(local) = self.local() {
            return self.local_found(local);
        }
        if self.unkeyable.is_some() {
            return Found::Failed;
        }
        let keys = self.lookup_keys();
        let mut values = Values::new();
        let read = (self.inner().backend).read_each(&keys, &mut |value| values.push(value));
        self.found(keys.len(), read.as_ref().map(|()| &values[..]))
    }

    /// The entry's key, then the epoch's and each tag's.
    pub(crate) fn lookup_keys(&self) -> Keys<'_> {
        let mut keys = Keys::new();
        keys.push(self.entry_key.as_str());
        keys.extend(self.version_keys());
        keys
    }

    /// What the values read for `lookup_keys` (`asked` of them) mean.
    /// (Borrowed, not moved: the values are a few hundred bytes on the stack.)
    pub(crate) fn found<T: Cacheable>(
        &self,
        asked: usize,
        values: Result<&[Option<Value>], &Error>,
    ) -> Found<T> {
        let inner = self.inner();
        let (seen, versions) = match values {
            Ok([seen, versions @ ..]) if versions.len() + 1 == asked => (seen, versions),
            Ok(values) => {
                let error = wrong_count(inner.backend.name(), asked, values.len());
                return self.failed_lookup(&error);
            }
            Err(error) => return self.failed_lookup(error),
        };
        let versions = versions_of(versions);
        if let (Some(entry), Some(versions)) = (seen, &versions) {
            if let Some(value) = codec::decode::<T>(entry, versions) {
                self.count_hit();
                return Found::Hit(value);
            }
        }
        self.count_miss();
        let view = View {
            entry: seen.clone(),
            versions: versions.clone(),
        };
        Found::Miss(Miss {
            versions,
            seen: seen.clone(),
            view: Some(view),
        })
    }

    fn failed_lookup<T>(&self, error: &Error) -> Found<T> {
        self.backend_failed("get", &self.entry_key, error);
        self.count_miss();
        Found::Failed
    }

    /// Creates missing versions and reads them, with the entry, taking `lock` if asked.
    async fn begin_load<D: Driver>(
        &self,
        driver: &D,
        lock: Option<LockRequest<'_>>,
    ) -> Result<(LoadStart, Versions)> {
        let backend = &self.inner().backend;
        let keys = self.version_keys();
        let candidates: Vec<Value> = keys.iter().map(|_| codec::new_version()).collect();
        let start = driver
            .begin_load(backend, lock, &keys, &candidates, &self.entry_key)
            .await?;
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
    async fn versions_now<D: Driver>(&self, driver: &D) -> Miss {
        match self.begin_load(driver, None).await {
            Ok((start, versions)) => Miss {
                versions: Some(versions),
                seen: start.entry,
                view: None,
            },
            Err(error) => {
                self.backend_failed("begin_load", &self.entry_key, &error);
                Miss {
                    versions: None,
                    seen: None,
                    view: None,
                }
            }
        }
    }

    /// [`lead`](Request::lead), on the heap and built in a frame of its own: in
    /// a debug build, the frame of `get_or_load` would otherwise reserve room
    /// for the whole computation's future, and a recursion of cached async fns
    /// keeps one such frame per level on the stack.
    fn lead_boxed<'s, D: Driver, T: Cacheable, E: 's>(
        &'s self,
        driver: &'s D,
        flight: LeaderGuard<'s>,
        body: impl Future<Output = Result<T, E>> + 's,
    ) -> Pin<Box<impl Future<Output = Result<T, E>> + 's>> {
        Box::pin(self.lead(driver, flight, body))
    }

    /// The one caller of this process computing the key: take the shared lock
    /// (or wait for the process holding it), compute, store, hand on.
    async fn lead<D: Driver, T: Cacheable, E>(
        &self,
        driver: &D,
        flight: LeaderGuard<'_>,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let inner = self.inner();
        // In this process's memory, the flight is the lock: only callers of this
        // process can compute the key. Elsewhere other processes can too.
        let shared = !inner.backend.is_local();
        let lock_key = match shared {
            true => inner.namespace.lock_key(&self.entry_key),
            false => String::new(),
        };
        let token = fastrand::u64(..);
        let deadline = deadline_after(Instant::now(), inner.lock_timeout);
        let mut pause = FIRST_POLL_PAUSE;
        // Ends by the deadline: each turn either breaks, returns, or sleeps toward it.
        let (miss, locked) = loop {
            let lock = shared.then_some(LockRequest {
                key: &lock_key,
                token,
                ttl: inner.lock_timeout,
            });
            match self.begin_load(driver, lock).await {
                Err(error) => {
                    self.backend_failed("begin_load", &self.entry_key, &error);
                    let miss = Miss {
                        versions: None,
                        seen: None,
                        view: None,
                    };
                    break (miss, false);
                }
                Ok((start, versions)) => {
                    // Stored by another caller since our read? Then it is ours too.
                    let stored = start
                        .entry
                        .as_ref()
                        .and_then(|entry| codec::decode::<T>(entry, &versions));
                    if let Some(value) = stored {
                        self.note(Outcome::FromAnotherProcess);
                        if start.locked {
                            self.unlock(driver, &lock_key, token).await;
                        }
                        let invalidations = &inner.invalidations;
                        let mark = self.mark;
                        let view = View {
                            entry: start.entry,
                            versions: Some(versions),
                        };
                        // Read since the call started: still current only if nothing
                        // was invalidated or cleaned since.
                        flight.finish(|| {
                            invalidations
                                .still(mark, mark.cleans())
                                .then(|| share(&value, Some(view)))
                        });
                        return Ok(value);
                    }
                    let now = Instant::now();
                    if start.locked || !shared || now >= deadline {
                        let miss = Miss {
                            versions: Some(versions),
                            seen: start.entry,
                            view: None,
                        };
                        break (miss, start.locked);
                    }
                    driver
                        .sleep(jittered(pause, fastrand::f64()).min(deadline - now))
                        .await;
                    pause = (pause * 2).min(MAX_POLL_PAUSE);
                }
            }
        };
        // Released below; or, if the body panics or the task is cancelled, when dropped.
        let mut release = locked.then(|| LockRelease {
            backend: &inner.backend,
            key: &lock_key,
            token,
            inline: D::PER_THREAD,
        });
        // The store releases the lock in its own round trip; any other way out
        // (the body failed, no versions, nothing stored) unlocks here.
        let held = locked.then_some(HeldLock {
            key: &lock_key,
            token,
        });
        let computed_under = miss.versions.clone();
        // What the computation started from, for the waiters to compare with
        // what they read (`None`: the backend could not be read).
        let view = miss.versions.as_ref().map(|versions| View {
            entry: miss.seen.clone(),
            versions: Some(versions.clone()),
        });
        let body = flight.leading(body);
        let (outcome, stored) = self.compute_and_store(driver, miss, body, held).await;
        if let Some(release) = release.take() {
            release.disarm();
            if !stored.released_lock() {
                self.unlock(driver, &lock_key, token).await;
            }
        }
        // Overtaken by an invalidation or a clean, the value goes to this caller
        // only: the waiters look again (dropping the guard, or `None` from
        // `finish`, abandons the flight). So it does when its store was refused:
        // the entry changed under the computation, perhaps by another process's
        // invalidation, which the counts below do not know.
        if let (Ok(value), true) = (&outcome, stored.may_hand_over()) {
            let current = self.current_through(driver, computed_under).await;
            let invalidations = &inner.invalidations;
            let mark = self.mark;
            // Checked again once no one can join: a caller that joined after an
            // invalidation or a clean of the meantime finds the counts moved.
            flight.finish(|| {
                current
                    .filter(|&cleans| invalidations.still(mark, cleans))
                    .map(|_| share(value, view))
            });
        }
        outcome
    }

    /// Whether a value computed under `versions` (if known) since this call
    /// started is still current: no invalidation of its stripe since, and, if
    /// there was a clean, the versions unchanged (read again only then). Gives
    /// the count of cleans it is known current through.
    async fn current_through<D: Driver>(
        &self,
        driver: &D,
        versions: Option<Versions>,
    ) -> Option<u64> {
        let invalidations = &self.inner().invalidations;
        if !invalidations.unchanged_since(self.mark) {
            return None;
        }
        let cleans = invalidations.cleans();
        if cleans == self.mark.cleans() {
            return Some(cleans);
        }
        let versions = versions?;
        let keys = self.version_keys();
        let now = driver.get_many(&self.inner().backend, &keys).await.ok()?;
        (versions_of(&now)? == versions).then_some(cleans)
    }

    async fn load_and_store<D: Driver, T: Cacheable, E>(
        &self,
        driver: &D,
        miss: Miss,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.compute_and_store(driver, miss, body, None).await.0
    }

    /// Runs the body and stores its value, releasing `held` with the store.
    /// Also says what became of the store (whether `held` was released among it).
    async fn compute_and_store<D: Driver, T: Cacheable, E>(
        &self,
        driver: &D,
        miss: Miss,
        body: impl Future<Output = Result<T, E>>,
        held: Option<HeldLock<'_>>,
    ) -> (Result<T, E>, StoreOutcome) {
        let Miss { versions, seen, .. } = match miss.versions {
            Some(_) => miss,
            None => self.versions_now(driver).await,
        };
        let outcome = self.load(body).await;
        let mut stored = StoreOutcome::NotStored;
        if let (Ok(value), Some(versions)) = (&outcome, versions) {
            stored = self
                .store(driver, &versions, seen.as_ref(), value, held)
                .await;
        }
        (outcome, stored)
    }

    /// Runs the body, timing it.
    pub(crate) async fn load<T, E>(
        &self,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let started = Instant::now();
        let outcome = pin!(body).await;
        self.count_load(started.elapsed(), outcome.is_err());
        outcome
    }

    /// Stores `value`, computed under `versions`, unless the entry changed since
    /// it was read as `seen` (an invalidation, or another caller's store), and
    /// releases `held` in the same round trip (see [`StoreOutcome::released_lock`]).
    async fn store<D: Driver, T: Cacheable>(
        &self,
        driver: &D,
        versions: &[u64],
        seen: Option<&Value>,
        value: &T,
        held: Option<HeldLock<'_>>,
    ) -> StoreOutcome {
        let inner = self.inner();
        // A value that `unless` rejects still goes to the waiters.
        if self.ttl == Some(Duration::ZERO) || self.skips_store(value) {
            return StoreOutcome::NotStored;
        }
        let entry = match codec::encode(inner.objects, versions, value) {
            Ok(entry) => entry,
            Err(reason) => {
                let error = Error::new(
                    ErrorKind::Codec,
                    format!("the value could not be encoded: {reason}"),
                );
                self.backend_failed("encode", &self.entry_key, &error);
                return StoreOutcome::NotStored;
            }
        };
        if let Value::Bytes(bytes) = &entry {
            if bytes.len() > inner.max_value_size {
                self.count_oversized();
                tracing::debug!(
                    key = %self.entry_key,
                    size = bytes.len(),
                    max = inner.max_value_size,
                    "cachetool: value larger than the maximum value size; not stored"
                );
                return StoreOutcome::NotStored;
            }
        }
        let stored = if inner.backend.is_local() {
            let store = || (inner.backend).replace_if(&self.entry_key, seen, entry, self.ttl, held);
            match inner.invalidations.store_locally(self.mark, store) {
                Some(stored) => stored,
                None => return StoreOutcome::Overtaken,
            }
        } else {
            if !inner.invalidations.unchanged_since(self.mark) {
                return StoreOutcome::Overtaken;
            }
            driver
                .replace_if(&inner.backend, &self.entry_key, seen, entry, self.ttl, held)
                .await
        };
        match stored {
            Ok(true) => StoreOutcome::Stored,
            Ok(false) => StoreOutcome::Refused,
            Err(error) if error.kind() == ErrorKind::TooLarge => {
                self.count_oversized();
                tracing::debug!(key = %self.entry_key, %error, "cachetool: value not stored");
                StoreOutcome::NotStored
            }
            Err(error) => {
                self.backend_failed("store", &self.entry_key, &error);
                StoreOutcome::NotStored
            }
        }
    }

    async fn unlock<D: Driver>(&self, driver: &D, lock_key: &str, token: u64) {
        let backend = &self.inner().backend;
        if let Err(error) = driver.unlock(backend, lock_key, token).await {
            self.backend_failed("unlock", lock_key, &error);
        }
    }
}

/// Releases a held lock if dropped armed: when the body panicked or the task
/// was cancelled. (A drop can't await: a task's lock is released by a new
/// task with an async backend, on the blocking pool with a blocking one, at
/// once with an in-process one.)
struct LockRelease<'a> {
    backend: &'a Arc<dyn Backend>,
    key: &'a str,
    token: u64,
    /// Whether to call the backend here and now (a thread, or an in-process backend).
    inline: bool,
}

impl LockRelease<'_> {
    /// The lock is released by the normal path.
    fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for LockRelease<'_> {
    fn drop(&mut self) {
        if self.inline || self.backend.is_local() {
            let _ = self.backend.unlock(self.key, self.token);
            return;
        }
        #[cfg(feature = "tokio")]
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (backend, key, token) = (Arc::clone(self.backend), self.key.to_owned(), self.token);
            if backend.as_async().is_some() {
                runtime.spawn(async move {
                    if let Some(backend) = backend.as_async() {
                        let _ = backend.unlock(&key, token).await;
                    }
                });
            } else {
                runtime.spawn_blocking(move || backend.unlock(&key, token));
            }
            return;
        }
        let _ = self.backend.unlock(self.key, self.token);
    }
}

/// The version in each value, if every version exists. (A loop: collecting
/// into an `Option` costs more on the hit path.)
pub(crate) fn versions_of(values: &[Option<Value>]) -> Option<Versions> {
    let mut versions = Versions::new();
    for value in values {
        versions.push(codec::version_of(value.as_ref()?));
    }
    Some(versions)
}

/// A poll pause spread over `[pause / 2, pause * 3 / 2)` by `unit` (in
/// `[0, 1)`), so that processes waiting for one lock do not poll in step.
fn jittered(pause: Duration, unit: f64) -> Duration {
    pause.mul_f64(0.5 + unit)
}

/// The value for the waiters, with the view its computation started from.
pub(crate) fn share<T: Cacheable>(value: &T, view: Option<View>) -> Shared {
    Arc::new(Handed {
        value: value.clone(),
        view,
    })
}

pub(crate) fn wrong_count(backend: &str, asked: usize, got: usize) -> Error {
    Error::new(
        ErrorKind::Backend,
        format!("the {backend} backend returned {got} values for {asked} keys"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_pauses_are_jittered_around_the_pause() {
        let mut rng = fastrand::Rng::with_seed(3);
        let pauses: Vec<Duration> = (0..1000)
            .map(|_| jittered(MAX_POLL_PAUSE, rng.f64()))
            .collect();
        assert!(pauses
            .iter()
            .all(|pause| *pause >= MAX_POLL_PAUSE / 2 && *pause < MAX_POLL_PAUSE * 3 / 2));
        let (low, high) = (pauses.iter().min().unwrap(), pauses.iter().max().unwrap());
        assert!(
            *high - *low > MAX_POLL_PAUSE * 9 / 10,
            "spread: {low:?}..{high:?}"
        );
    }
}
