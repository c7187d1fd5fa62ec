//! `{name}_many(items)`: many calls of one function, their entries read at
//! once, their computed values written at once.
//!
//! The generated code pushes one [`Request`] per item into a [`Batch`], whose
//! lookup reads every entry, the namespace epoch and every distinct tag of the
//! items in one `get_many` per cache (one round trip on Redis, one multi-get
//! per Memcached server): the hits of all items cost that one read. Then it
//! takes the items in order from the [`Lookups`]: a hit is the value read; a
//! miss goes the way of a single call's miss (`miss.rs`, `lead.rs`), its own
//! dogpile protection included, with the lookup already made, up to its
//! store. With a remote backend that store is held back (see
//! `many/deferred.rs`): the miss keeps its lock and its flight, and the next
//! item runs. After the last item, the held-back stores are written with one
//! `replace_if_many` per backend (one pipelined round trip per server), each
//! still a compare-and-set against the entry its miss read, releasing its
//! lock; then each miss ends as a single call's does after its store,
//! handing its value to the callers that waited for it (if no invalidation
//! overtook it). A miss of a key whose store is held back writes the held
//! stores first, and then finds the value stored. In memory (no round trip
//! to save) each miss stores at once.
//!
//! A body that calls its own function with its own item's key, or with an
//! earlier item's (whose flight is held until the writes), makes a
//! re-entrant call (computed, not stored), as in a single call: on a thread
//! the flights know the thread's leads; in a task, the body runs in the
//! caller's frame, outside the miss's future, so the caller runs it under
//! the flights that the miss and the held-back misses lead
//! (`flight::leading_these`).

mod deferred;
mod in_flight;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use smallvec::SmallVec;

use self::deferred::{BodyFailed, BodySlot, CallerBody, Deferred};
use self::in_flight::{MissInFlight, Step};
use super::Request;
use super::{wrong_count, Found, Miss};
use crate::__private::Cacheable;
use crate::backend::Value;
use crate::cache::Inner;
use crate::driver::{run_blocking, Blocking, Driver};

/// The requests of one `_many` call, in the order of its items.
pub struct Batch<'c> {
    requests: Vec<Request<'c>>,
}

/// What the lookup of a [`Batch`] found, taken item by item.
pub struct Lookups<'c, T> {
    pending: std::vec::IntoIter<(Request<'c>, Found<T>)>,
    /// The misses stopped at their stores, and those stores.
    deferred: Deferred<'c>,
}

impl Default for Batch<'_> {
    fn default() -> Self {
        Batch::new()
    }
}

impl<'c> Batch<'c> {
    /// An empty batch.
    pub fn new() -> Self {
        Batch {
            requests: Vec::new(),
        }
    }

    /// Adds the request of the next item.
    pub fn push(&mut self, request: Request<'c>) {
        self.requests.push(request);
    }

    /// Reads every item's entry at once (one round trip per cache).
    pub fn lookup<T: Cacheable>(self) -> Lookups<'c, T> {
        run_blocking(self.lookup_with(&Blocking))
    }

    /// The same, awaiting the backend.
    #[cfg(feature = "tokio")]
    pub async fn lookup_async<T: Cacheable>(self) -> Lookups<'c, T> {
        self.lookup_with(&crate::driver::Tokio).await
    }

    async fn lookup_with<D: Driver, T: Cacheable>(self, driver: &D) -> Lookups<'c, T> {
        let mut found: Vec<Option<Found<T>>> = self.requests.iter().map(|_| None).collect();
        // Requests of one cache are read together (a `cache = ...` over the
        // arguments may spread them over several).
        let mut caches: Vec<(&Inner, Vec<usize>)> = Vec::new();
        for (index, request) in self.requests.iter().enumerate() {
            // In memory, each item is looked up at once: no round trip to save.
            if let Some(local) = request.local() {
                found[index] = Some(request.local_found(local).into());
                continue;
            }
            if request.unkeyable.is_some() {
                // As a single call: computed, not stored, counted neither way.
                found[index] = Some(Found::Uncacheable);
                continue;
            }
            let inner = request.inner();
            match caches
                .iter_mut()
                .find(|(cache, _)| std::ptr::eq(*cache, inner))
            {
                Some((_, indices)) => indices.push(index),
                None => caches.push((inner, vec![index])),
            }
        }
        for (inner, indices) in &caches {
            read_together(driver, inner, &self.requests, indices, &mut found).await;
        }
        let pending: Vec<(Request<'c>, Found<T>)> = self
            .requests
            .into_iter()
            .zip(found)
            .map(|(request, found)| (request, found.unwrap_or(Found::Uncacheable)))
            .collect();
        Lookups {
            pending: pending.into_iter(),
            deferred: Deferred::new(),
        }
    }
}

/// One `get_many` of the entries of `indices` (requests of the cache
/// `inner`), then the epoch, then each distinct tag; each request's part of it
/// read as its own lookup would read it.
async fn read_together<D: Driver, T: Cacheable>(
    driver: &D,
    inner: &Inner,
    requests: &[Request<'_>],
    indices: &[usize],
    found: &mut [Option<Found<T>>],
) {
    let mut keys: Vec<&str> = indices
        .iter()
        .map(|&index| requests[index].entry_key.as_str())
        .collect();
    let epoch_at = keys.len();
    keys.push(inner.namespace.epoch_key());
    let mut tag_at: HashMap<&str, usize> = HashMap::new();
    for &index in indices {
        for tag_key in requests[index].tag_keys.iter() {
            tag_at.entry(tag_key).or_insert_with(|| {
                keys.push(tag_key);
                keys.len() - 1
            });
        }
    }
    let values = match driver.get_many(&inner.backend, &keys).await {
        Ok(values) if values.len() == keys.len() => values,
        Ok(values) => {
            let error = wrong_count(inner.backend.name(), keys.len(), values.len());
            return failed(requests, indices, found, &error);
        }
        Err(error) => return failed(requests, indices, found, &error),
    };
    for (at, &index) in indices.iter().enumerate() {
        let request = &requests[index];
        let mut own: SmallVec<[Option<Value>; 6]> = SmallVec::new();
        own.push(values[at].clone());
        own.push(values[epoch_at].clone());
        for tag_key in request.tag_keys.iter() {
            own.push(values[tag_at[tag_key]].clone());
        }
        found[index] = Some(request.found(own.len(), Ok(&own)));
    }
}

/// The read failed: every request of it is computed without storing, as a
/// single call's would be; the failure is reported once.
fn failed<T>(
    requests: &[Request<'_>],
    indices: &[usize],
    found: &mut [Option<Found<T>>],
    error: &crate::Error,
) {
    if let Some(&first) = indices.first() {
        let request = &requests[first];
        request.backend_failed("get_many", &request.entry_key, error);
    }
    for &index in indices {
        requests[index].count_miss();
        found[index] = Some(Found::Uncacheable);
    }
}

impl<'c, T: Cacheable> Lookups<'c, T> {
    /// The next item's value: as read, or the body's (run under the item's
    /// dogpile protection), stored for the next call.
    pub fn get_or_compute(&mut self, body: impl FnOnce() -> T) -> T {
        match self.get_or_compute_ok(|| Ok::<T, Infallible>(body())) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// The same for a body returning `Result`: only `Ok` is stored.
    pub fn get_or_compute_ok<E>(&mut self, body: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let (request, found) = self.next_item();
        let outcome = match found {
            Found::Hit(value) => Ok(value),
            Found::Miss(miss) if defers(&request) => self.deferred_miss(request, miss, body),
            found => run_blocking(request.get_or_load_after(&Blocking, found, async { body() })),
        };
        if self.pending.len() == 0 {
            run_blocking(self.deferred.flush(&Blocking));
        }
        outcome
    }

    /// A remote miss, its store held back (see the module docs).
    fn deferred_miss<E>(
        &mut self,
        request: Request<'c>,
        miss: Miss,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        if self.deferred.holds(&request.entry_key) {
            run_blocking(self.deferred.flush(&Blocking));
        }
        let mut miss = self.start_miss(Blocking, request, miss);
        let mut body = Some(body);
        let mut kept = None;
        loop {
            let queue = self.deferred.queue();
            let step = match miss.step(queue, &mut Context::from_waker(Waker::noop())) {
                Poll::Ready(step) => step,
                Poll::Pending => unreachable!("the blocking driver never yields"),
            };
            match step {
                Step::Done(output) => return output.or_else(|BodyFailed| kept.expect(BODY_KEPT)),
                Step::WantsBody => {
                    let body = body.take().expect("a miss runs its body once");
                    kept = Some(miss.give(body()));
                }
                Step::Parked => {
                    // A thread's flights are its own (`LEADING`): nothing to carry.
                    self.deferred.park(miss.parked(), Vec::new());
                    return kept.expect(BODY_KEPT);
                }
            }
        }
    }

    /// A miss's computation through a deferring driver, its body the caller's.
    fn start_miss<D: Driver + Send + 'static>(
        &self,
        driver: D,
        request: Request<'c>,
        miss: Miss,
    ) -> MissInFlight<'c, T> {
        let driver = self.deferred.driver(driver);
        let slot = BodySlot::new();
        let body = CallerBody(Arc::clone(&slot));
        let future = Box::pin(async move {
            request
                .get_or_load_after(&driver, Found::Miss(miss), body)
                .await
        });
        MissInFlight { future, slot }
    }

    fn next_item(&mut self) -> (Request<'c>, Found<T>) {
        // The generated code takes exactly one lookup per item it pushed.
        self.pending
            .next()
            .expect("`_many` asked for more items than it looked up")
    }
}

/// Whether a miss of `request` holds its store back: with a remote backend,
/// where the stores of all misses then go in one round trip per server.
fn defers(request: &Request<'_>) -> bool {
    request.local().is_none() && !request.inner().backend.in_process
}

const BODY_KEPT: &str = "the miss path stores or fails only after the body ran";

#[cfg(feature = "tokio")]
impl<'c, T: Cacheable> Lookups<'c, T> {
    /// The next item's value: as read, or the body's, awaited.
    pub async fn get_or_compute_async(&mut self, body: impl std::future::Future<Output = T>) -> T {
        let body = async { Ok::<T, Infallible>(body.await) };
        match self.get_or_compute_ok_async(body).await {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// The same for a body returning `Result`: only `Ok` is stored.
    pub async fn get_or_compute_ok_async<E>(
        &mut self,
        body: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let tokio = crate::driver::Tokio;
        let (request, found) = self.next_item();
        let outcome = match found {
            Found::Hit(value) => Ok(value),
            Found::Miss(miss) if defers(&request) => {
                self.deferred_miss_async(request, miss, body).await
            }
            found => request.get_or_load_after(&tokio, found, body).await,
        };
        if self.pending.len() == 0 {
            self.deferred.flush(&tokio).await;
        }
        outcome
    }

    /// [`deferred_miss`](Lookups::deferred_miss), awaited.
    async fn deferred_miss_async<E>(
        &mut self,
        request: Request<'c>,
        miss: Miss,
        body: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let tokio = crate::driver::Tokio;
        if self.deferred.holds(&request.entry_key) {
            self.deferred.flush(&tokio).await;
        }
        let mut miss = self.start_miss(tokio, request, miss);
        let mut body = Some(body);
        let mut kept = None;
        loop {
            let queue = self.deferred.queue();
            match std::future::poll_fn(|cx| miss.step(queue, cx)).await {
                Step::Done(output) => return output.or_else(|BodyFailed| kept.expect(BODY_KEPT)),
                Step::WantsBody => {
                    let body = body.take().expect("a miss runs its body once");
                    // As the computation of this miss's flight and of those
                    // held back: a call of one of their keys is re-entrant.
                    let mut leading = miss.slot.leading();
                    leading.extend_from_slice(self.deferred.held_leading());
                    let outcome = crate::flight::leading_these(leading, body).await;
                    kept = Some(miss.give(outcome));
                }
                Step::Parked => {
                    let leading = miss.slot.leading();
                    self.deferred.park(miss.parked(), leading);
                    return kept.expect(BODY_KEPT);
                }
            }
        }
    }
}
