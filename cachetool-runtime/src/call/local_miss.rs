//! A call whose cache is in memory, after its lookup found no current value:
//! lead the key's flight, wait for this process's leader, or compute alone.
//!
//! Every decision is a plain function returning the next [`Step`], so that
//! the two loops that take the steps, one for a thread
//! ([`local_after_miss_now`](Request::local_after_miss_now)) and one for a
//! task ([`local_after_miss`](Request::local_after_miss)), differ only in how
//! they run the body and wait. A thread's miss builds no future: it costs
//! what its decisions cost, not the moves of a state machine.

use std::future::Future;
use std::time::Instant;

use super::local::{LocalFound, Started};
use super::share;
use super::Request;
use crate::__private::Cacheable;
use crate::driver::Driver;
use crate::durations::deadline_after;
use crate::flight::{Joined, LeaderGuard, Waited, Waiter};
use crate::handover::Handed;
use crate::local::LocalStore;
use crate::observe::Outcome;

/// What a call does next after a miss.
pub(crate) enum Step<'f, T> {
    /// A value found: looking again after a wait, or handed over.
    Value(T),
    /// Lead the key's flight: run the body, then [`Request::end_lead`].
    Lead(LeaderGuard<'f>, Started),
    /// Run the body and store its value, with no flight (`lock = false`, or
    /// a wait that timed out or got a value of another type).
    ComputeAndStore(Started),
    /// Run the body, store nothing: the arguments make no key, or this very
    /// caller computes the key already (a recursive call), and it stores.
    ComputeOnly,
    /// Wait for the leader, then [`Request::after_wait`].
    Wait(Waiter),
}

impl<'c> Request<'c> {
    /// The step after `found` (a lookup's result). `per_thread`: whether the
    /// caller is a thread (else a task), for the flight's re-entrance check.
    pub(crate) fn next_step<T: Cacheable>(
        &self,
        local: &LocalStore,
        found: LocalFound<T>,
        per_thread: bool,
    ) -> Step<'c, T> {
        let call = match (found, self.call) {
            (LocalFound::Hit(value), _) => {
                self.note(Outcome::Joined);
                return Step::Value(value);
            }
            (LocalFound::Miss, Some(call)) => call,
            (_, _) => return Step::ComputeOnly,
        };
        if !self.site.lock() {
            return Step::ComputeAndStore(self.local_started(local));
        }
        match self.inner().flights.join(call, per_thread) {
            Joined::Leader(flight) => self.begin_lead(local, flight),
            Joined::Reentrant => Step::ComputeOnly,
            Joined::Waiter(waiter) => {
                self.waiting();
                Step::Wait(waiter)
            }
        }
    }

    /// The leader's first step: a value stored by a leader that finished
    /// between this caller's lookup and its join is taken (and handed on);
    /// otherwise it computes.
    fn begin_lead<T: Cacheable>(&self, local: &LocalStore, flight: LeaderGuard<'c>) -> Step<'c, T> {
        let Some(value) = self.local_peek::<T>(local) else {
            return Step::Lead(flight, self.local_started(local));
        };
        self.note(Outcome::Joined);
        let invalidations = &self.inner().invalidations;
        let mark = self.mark;
        flight.finish(|| {
            invalidations
                .untouched_since(mark, mark.cleans())
                .then(|| share(&value, None))
        });
        Step::Value(value)
    }

    /// The leader's last step, once its body returned `outcome`: store the
    /// value and hand it to the waiters, unless an invalidation overtook the
    /// computation (then the value goes to this caller only, and the waiters,
    /// the flight abandoned, look again).
    pub(crate) fn end_lead<T: Cacheable, E>(
        &self,
        local: &LocalStore,
        flight: LeaderGuard<'_>,
        started: &Started,
        outcome: &Result<T, E>,
    ) {
        let Ok(value) = outcome else {
            return;
        };
        if !self.local_store(local, started, value) {
            return;
        }
        // Decided once no one can join: a caller that joined after an
        // invalidation or a clean of the meantime finds the counts moved, and
        // then the versions too if a clean concerned this entry.
        let invalidations = &self.inner().invalidations;
        let mark = self.mark;
        flight.finish(|| {
            let current = invalidations.unchanged_since(mark)
                && (invalidations.cleans() == mark.cleans()
                    || local.namespace.still_at(started.epoch, &started.tags));
            current.then(|| share(value, None))
        });
    }

    /// The step after a wait for the leader ended as `waited`.
    pub(crate) fn after_wait<T: Cacheable>(
        &self,
        local: &LocalStore,
        waited: Waited,
        per_thread: bool,
    ) -> Step<'c, T> {
        match waited {
            Waited::Value(shared) => match shared.downcast_ref::<Handed<T>>() {
                // The leader hands over only a value current for every caller
                // that joined (see `end_lead`).
                Some(handed) => {
                    self.note(Outcome::Joined);
                    Step::Value(handed.value.clone())
                }
                None => Step::ComputeAndStore(self.local_started(local)),
            },
            // The leader panicked, failed, was cancelled or overtaken: look
            // again, and perhaps lead.
            Waited::Abandoned => self.next_step(local, self.local_found(local), per_thread),
            Waited::TimedOut => Step::ComputeAndStore(self.local_started(local)),
        }
    }

    /// How long a waiter waits for the leader.
    pub(crate) fn wait_deadline(&self) -> Instant {
        deadline_after(Instant::now(), self.inner().lock_timeout)
    }

    /// The miss of a thread: the steps, the body run in place.
    pub(crate) fn local_after_miss_now<T: Cacheable, E>(
        &self,
        local: &LocalStore,
        first: LocalFound<T>,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let mut step = self.next_step(local, first, true);
        loop {
            step = match step {
                Step::Value(value) => return Ok(value),
                Step::ComputeOnly => return self.load_now(body),
                Step::ComputeAndStore(started) => {
                    let outcome = self.load_now(body);
                    if let Ok(value) = &outcome {
                        self.local_store(local, &started, value);
                    }
                    return outcome;
                }
                Step::Lead(flight, started) => {
                    let outcome = self.load_now(body);
                    self.end_lead(local, flight, &started, &outcome);
                    return outcome;
                }
                Step::Wait(waiter) => {
                    let waited = waiter.wait(self.wait_deadline());
                    self.after_wait(local, waited, true)
                }
            };
        }
    }

    /// The miss of a task: the same steps, the body and the waits awaited.
    pub(crate) async fn local_after_miss<D: Driver, T: Cacheable, E>(
        &self,
        driver: &D,
        local: &LocalStore,
        first: LocalFound<T>,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let mut step = self.next_step(local, first, D::IS_THREAD);
        loop {
            step = match step {
                Step::Value(value) => return Ok(value),
                Step::ComputeOnly => return self.load(body).await,
                Step::ComputeAndStore(started) => {
                    let outcome = self.load(body).await;
                    if let Ok(value) = &outcome {
                        self.local_store(local, &started, value);
                    }
                    return outcome;
                }
                Step::Lead(flight, started) => {
                    // On the heap, as `lead_boxed` explains.
                    let outcome = Box::pin(self.load(flight.leading(body))).await;
                    self.end_lead(local, flight, &started, &outcome);
                    return outcome;
                }
                Step::Wait(waiter) => {
                    let waited = driver.wait(waiter, self.wait_deadline()).await;
                    self.after_wait(local, waited, D::IS_THREAD)
                }
            };
        }
    }
}
