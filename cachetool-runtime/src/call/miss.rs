//! A call with a remote backend, after its lookup: the miss loop (lead,
//! wait for this process's leader, or compute alone), a refresh and an
//! invalidation. The same code runs for threads and tasks (see `driver.rs`);
//! a cache in memory goes to `local.rs` instead.

use std::future::Future;
use std::time::Instant;

use super::outcome::{Found, TOMBSTONE_TTL};
use super::Request;
use crate::__private::Cacheable;
use crate::codec;
use crate::driver::Driver;
use crate::durations::deadline_after;
use crate::flight::{Joined, Waited};
use crate::handover::Handed;
use crate::observe::Outcome;
use crate::{Error, ErrorKind, Result};

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
            let after_miss = Box::pin(self.local_after_miss(driver, local, found.into(), body));
            return self.observed(after_miss).await;
        }
        let after_miss = Box::pin(self.after_miss(driver, found, body));
        self.observed(after_miss).await
    }

    /// [`get_or_load`](Request::get_or_load) after a first lookup that found no value.
    pub(crate) async fn after_miss<D: Driver, T: Cacheable, E>(
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
                Found::Uncacheable => return self.load(body).await,
                Found::Miss(miss) => miss,
            };
            let Some(call) = self.call.filter(|_| self.site.lock()) else {
                return self.load_and_store(driver, miss, body).await;
            };
            match inner.flights.join(call, D::IS_THREAD) {
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
            let outcome = self.load_and_store(driver, miss, body).await;
            self.drop_near_copies();
            outcome
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
        let tombstone = codec::tombstone(inner.stores_objects);
        if inner.backend.in_process {
            let write = || inner.backend.set(&self.entry_key, tombstone, Some(ttl));
            return inner.invalidations.invalidate_locally(self.mark, write);
        }
        let outcome = driver
            .set(&inner.backend, &self.entry_key, tombstone, Some(ttl))
            .await;
        inner.invalidations.invalidated(self.mark);
        self.drop_near_copies();
        if let Err(error) = &outcome {
            crate::observe::returned_error(self.cache, "invalidate", &self.entry_key, error);
        }
        outcome
    }
}
