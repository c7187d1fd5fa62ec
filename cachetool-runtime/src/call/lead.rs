//! The leader of a remote key's computation: the shared lock, polled with
//! jittered pauses while another process holds it, the versions read or
//! made, and whether its value is still current to hand over.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use super::outcome::{Miss, FIRST_POLL_PAUSE, MAX_POLL_PAUSE};
use super::Request;
use super::{share, versions_of, wrong_count};
use crate::__private::Cacheable;
use crate::backend::{Faces, HeldLock, LoadStart, LockRequest, Value};
use crate::codec;
use crate::driver::Driver;
use crate::durations::deadline_after;
use crate::flight::LeaderGuard;
use crate::handover::{Versions, View};
use crate::observe::Outcome;
use crate::Result;

impl Request<'_> {
    /// Creates missing versions and reads them, with the entry, taking `lock` if asked.
    pub(crate) async fn begin_load<D: Driver>(
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
    pub(crate) async fn versions_now<D: Driver>(&self, driver: &D) -> Miss {
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
    pub(crate) fn lead_boxed<'s, D: Driver, T: Cacheable, E: 's>(
        &'s self,
        driver: &'s D,
        flight: LeaderGuard<'s>,
        body: impl Future<Output = Result<T, E>> + 's,
    ) -> Pin<Box<impl Future<Output = Result<T, E>> + 's>> {
        Box::pin(self.lead(driver, flight, body))
    }

    /// The one caller of this process computing the key: take the shared lock
    /// (or wait for the process holding it), compute, store, hand on.
    pub(crate) async fn lead<D: Driver, T: Cacheable, E>(
        &self,
        driver: &D,
        flight: LeaderGuard<'_>,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let inner = self.inner();
        // In this process's memory, the flight is the lock: only callers of this
        // process can compute the key. Elsewhere other processes can too.
        let shared = !inner.backend.in_process;
        let lock_key = match shared {
            true => inner.namespace.lock_key(&self.entry_key),
            false => String::new(),
        };
        let token = fastrand::u64(..);
        let deadline = deadline_after(Instant::now(), inner.lock_timeout);
        let mut pause = FIRST_POLL_PAUSE;
        // Ends by the deadline: each turn either breaks, returns, or sleeps toward it.
        let (miss, locked) = loop {
            let lock = shared.then_some(LockRequest::new(&lock_key, token, inner.lock_timeout));
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
                        .and_then(|entry| self.fresh_value::<T>(entry, &versions));
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
                                .untouched_since(mark, mark.cleans())
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
            inline: D::IS_THREAD,
        });
        // The store releases the lock in its own round trip; any other way out
        // (the body failed, no versions, nothing stored) unlocks here.
        let held = locked.then_some(HeldLock::new(&lock_key, token));
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
            let current = self.cleans_current_through(driver, computed_under).await;
            let invalidations = &inner.invalidations;
            let mark = self.mark;
            // Checked again once no one can join: a caller that joined after an
            // invalidation or a clean of the meantime finds the counts moved.
            flight.finish(|| {
                current
                    .filter(|&cleans| invalidations.untouched_since(mark, cleans))
                    .map(|_| share(value, view))
            });
        }
        outcome
    }

    /// Whether a value computed under `versions` (if known) since this call
    /// started is still current: no invalidation of its stripe since, and, if
    /// there was a clean, the versions unchanged (read again only then). Gives
    /// the count of cleans it is known current through.
    pub(crate) async fn cleans_current_through<D: Driver>(
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
}

/// A poll pause spread over `[pause / 2, pause * 3 / 2)` by `unit` (in
/// `[0, 1)`), so that processes waiting for one lock do not poll in step.
fn jittered(pause: Duration, unit: f64) -> Duration {
    pause.mul_f64(0.5 + unit)
}

/// Releases a held lock if dropped armed: when the body panicked or the task
/// was cancelled. (A drop can't await: a task's lock is released by a new
/// task, on the backend's async face; at once with an in-process backend.)
pub(crate) struct LockRelease<'a> {
    backend: &'a Faces,
    key: &'a str,
    token: u64,
    /// Whether to call the backend here and now (a thread, or an in-process backend).
    inline: bool,
}

impl LockRelease<'_> {
    /// The lock is released by the normal path.
    pub(crate) fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for LockRelease<'_> {
    fn drop(&mut self) {
        if self.inline || self.backend.in_process {
            let _ = self.backend.unlock(self.key, self.token);
            return;
        }
        #[cfg(feature = "tokio")]
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (tasks, key, token) = (
                std::sync::Arc::clone(&self.backend.tasks),
                self.key.to_owned(),
                self.token,
            );
            runtime.spawn(async move {
                let _ = tasks.unlock(&key, token).await;
            });
            return;
        }
        let _ = self.backend.unlock(self.key, self.token);
    }
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
