//! A call whose cache is in this process's memory: the hit, the miss and its
//! single flight, the store, an invalidation, a refresh and a peek, all on
//! the local tier, keyed by the call's identity. (A remote backend's call is
//! `miss.rs` and the files beside it.)
//!
//! Why no tombstone: an invalidation removes the entry and moves on its
//! stripe's count under the stripe's lock (`invalidations.rs`), and a store
//! happens under the same lock only if the count has not moved since the
//! call began. The counts are the namespace's, shared by every cache of the
//! prefix on this backend, so no computation that started before an
//! invalidation returned stores or hands over its value, whichever cache made
//! it, and there is no tombstone for eviction to lose.

use std::future::Future;
use std::time::{Duration, Instant};

use super::Request;
use super::{share, Found, Miss};
use crate::__private::Cacheable;
use crate::driver::Driver;
use crate::durations::{deadline_after, expiry_after};
use crate::flight::{Joined, LeaderGuard, Waited};
use crate::handover::Handed;
use crate::local::{entry, Header, LocalStore, TagPairs};
use crate::observe::Outcome;
use crate::{Error, ErrorKind, Result};

/// The versions a computation started from: the epoch and its tags'.
struct Started {
    epoch: u64,
    tags: TagPairs,
}

impl Request<'_> {
    /// The local store, if the cache has one.
    #[inline]
    pub(crate) fn local(&self) -> Option<&LocalStore> {
        self.inner().local.as_ref()
    }

    /// The entry's value, if there is a current one: counted as a hit or a miss.
    #[inline]
    pub(crate) fn local_found<T: Cacheable>(&self, local: &LocalStore) -> Found<T> {
        let Some(call) = self.call else {
            return Found::Failed;
        };
        if let Some(value) = self.local_value(local, local.tier().get(&local.key(call))) {
            self.count_hit();
            return Found::Hit(value);
        }
        self.count_miss();
        Found::Miss(Miss::unread())
    }

    /// The value of `entry`, if it is a current `T`.
    #[inline]
    fn local_value<T: Cacheable>(
        &self,
        local: &LocalStore,
        entry: Option<crate::local::SharedEntry>,
    ) -> Option<T> {
        let entry = entry?;
        if !local.namespace.current(&entry.header) {
            return None;
        }
        entry.value::<T>().cloned()
    }

    /// The stored value, if there is a current one, counted as nothing.
    pub(crate) fn local_peek<T: Cacheable>(&self, local: &LocalStore) -> Option<T> {
        let call = self.call?;
        self.local_value(local, local.tier().peek(&local.key(call)))
    }

    /// [`get_or_load`](Request::get_or_load) with a local store: after a
    /// first lookup that found no value.
    pub(crate) async fn local_after_miss<D: Driver, T: Cacheable, E>(
        &self,
        driver: &D,
        local: &LocalStore,
        first: Found<T>,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let inner = self.inner();
        let mut first = Some(first);
        loop {
            let found = match first.take() {
                Some(found) => found,
                None => self.local_found(local),
            };
            let call = match (found, self.call) {
                // Looked up again after waiting for another caller's computation.
                (Found::Hit(value), _) => {
                    self.note(Outcome::Joined);
                    return Ok(value);
                }
                (Found::Miss(_), Some(call)) => call,
                (_, _) => return self.load(body).await,
            };
            if !self.site.lock() {
                return self.local_compute_and_store(local, body).await;
            }
            match inner.flights.join(call, D::PER_THREAD) {
                Joined::Leader(flight) => {
                    // On the heap, as `lead_boxed` explains.
                    return Box::pin(self.local_lead(local, flight, body)).await;
                }
                // The outer call of this same key stores; this one only computes.
                Joined::Reentrant => return self.load(body).await,
                Joined::Waiter(waiter) => {
                    self.waiting();
                    let deadline = deadline_after(Instant::now(), inner.lock_timeout);
                    match driver.wait(waiter, deadline).await {
                        Waited::Value(shared) => match shared.downcast_ref::<Handed<T>>() {
                            // The leader hands over only a value current for
                            // every caller that joined (see `local_lead`).
                            Some(handed) => {
                                self.note(Outcome::Joined);
                                return Ok(handed.value.clone());
                            }
                            None => return self.local_compute_and_store(local, body).await,
                        },
                        // The leader panicked, failed, was cancelled or overtaken:
                        // look again, and perhaps lead.
                        Waited::Abandoned => continue,
                        Waited::TimedOut => return self.local_compute_and_store(local, body).await,
                    }
                }
            }
        }
    }

    /// The one caller computing the key: compute, store, hand on.
    async fn local_lead<T: Cacheable, E>(
        &self,
        local: &LocalStore,
        flight: LeaderGuard<'_>,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let invalidations = &self.inner().invalidations;
        let mark = self.mark;
        // Stored by a leader that finished between our lookup and our join?
        if let Some(value) = self.local_peek::<T>(local) {
            self.note(Outcome::Joined);
            flight.finish(|| {
                invalidations
                    .still(mark, mark.cleans())
                    .then(|| share(&value, None))
            });
            return Ok(value);
        }
        let started = self.local_started(local);
        let outcome = self.load(flight.leading(body)).await;
        let Ok(value) = &outcome else {
            return outcome;
        };
        if !self.local_store(local, &started, value) {
            // Overtaken by an invalidation: the value goes to this caller only,
            // the waiters look again (dropping the guard abandons the flight).
            return outcome;
        }
        // Decided once no one can join: a caller that joined after an
        // invalidation or a clean of the meantime finds the counts moved, and
        // then the versions too if a clean concerned this entry.
        flight.finish(|| {
            let current = invalidations.unchanged_since(mark)
                && (invalidations.cleans() == mark.cleans()
                    || local.namespace.still_at(started.epoch, &started.tags));
            current.then(|| share(value, None))
        });
        outcome
    }

    /// Runs the body and stores its value, with no flight.
    async fn local_compute_and_store<T: Cacheable, E>(
        &self,
        local: &LocalStore,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let started = self.local_started(local);
        let outcome = self.load(body).await;
        if let Ok(value) = &outcome {
            self.local_store(local, &started, value);
        }
        outcome
    }

    /// [`reload`](Request::reload) with a local store.
    pub(crate) async fn local_reload<T: Cacheable, E>(
        &self,
        local: &LocalStore,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        if self.call.is_none() {
            return self.load(body).await;
        }
        self.local_compute_and_store(local, body).await
    }

    /// The versions now, read before the body runs (the count of cleans was
    /// noted when the call began: see `namespace.rs`).
    fn local_started(&self, local: &LocalStore) -> Started {
        let (epoch, tags) = local.namespace.versions_now(&self.tag_hashes);
        Started { epoch, tags }
    }

    /// Stores `value` unless `unless` or a zero TTL says not to. False only if
    /// an invalidation overtook the computation (nothing stored, nothing to
    /// hand over).
    fn local_store<T: Cacheable>(&self, local: &LocalStore, started: &Started, value: &T) -> bool {
        let Some(call) = self.call else {
            return true;
        };
        // A value that `unless` rejects still goes to the waiters.
        if self.ttl == Some(Duration::ZERO) || self.skips_store(value) {
            return true;
        }
        let expires = self.ttl.and_then(|ttl| expiry_after(Instant::now(), ttl));
        let header = Header::new(expires, started.epoch, &started.tags, self.mark.cleans());
        let new_entry = entry(header, value.clone());
        let key = local.key(call);
        let invalidations = &self.inner().invalidations;
        invalidations
            .store_locally(self.mark, || local.tier().insert(key, new_entry))
            .is_some()
    }

    /// [`drop_entry`](Request::drop_entry) with a local store: the entry goes,
    /// and the invalidation is counted with no store of its stripe in between.
    pub(crate) fn local_invalidate(&self, local: &LocalStore) -> Result<()> {
        let Some(call) = self.call else {
            let reason = self.unkeyable.as_deref().unwrap_or("no key");
            return Err(Error::new(
                ErrorKind::Codec,
                format!("the arguments could not be encoded as a key: {reason}"),
            ));
        };
        let key = local.key(call);
        let invalidations = &self.inner().invalidations;
        invalidations.invalidate_locally(self.mark, || local.tier().remove(&key));
        Ok(())
    }
}
