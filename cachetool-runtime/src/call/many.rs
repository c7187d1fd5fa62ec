//! `{name}_many(items)`: many calls of one function, their entries read at
//! once.
//!
//! The generated code pushes one [`Request`] per item into a [`Batch`], whose
//! lookup reads every entry, the namespace epoch and every distinct tag of the
//! items in one `get_many` per cache (one round trip on Redis, one multi-get
//! per Memcached server): the hits of all items cost that one read. Then it
//! takes the items in order from the [`Lookups`]: a hit is the value read; a
//! miss goes the way of a single call's miss (`miss.rs`), its own dogpile
//! protection included, with the lookup already made. Each miss stores its
//! value as a single call does (one write per miss: the writes are not
//! pipelined, so that each keeps its lock, tombstone and invalidation checks).

use std::collections::HashMap;
use std::convert::Infallible;

use smallvec::SmallVec;

use super::Request;
use super::{wrong_count, Found};
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
                found[index] = Some(request.local_found(local));
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
        match found {
            Found::Hit(value) => Ok(value),
            found => run_blocking(request.get_or_load(&Blocking, Some(found), async { body() })),
        }
    }

    fn next_item(&mut self) -> (Request<'c>, Found<T>) {
        // The generated code takes exactly one lookup per item it pushed.
        self.pending
            .next()
            .expect("`_many` asked for more items than it looked up")
    }
}

#[cfg(feature = "tokio")]
impl<T: Cacheable> Lookups<'_, T> {
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
        let (request, found) = self.next_item();
        match found {
            Found::Hit(value) => Ok(value),
            found => {
                request
                    .get_or_load(&crate::driver::Tokio, Some(found), body)
                    .await
            }
        }
    }
}
