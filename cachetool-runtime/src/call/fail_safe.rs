//! `#[cached(fail_safe = ...)]`: when the body returns `Err` and the key's
//! entry stopped being fresh less than `fail_safe` ago, the call returns that
//! value (`Ok(old)`) instead of the error; then, for the cache's throttle,
//! the calls of that key get it too without running the body, so that a
//! failing database is not hit by every request.
//!
//! The entry is there to be found because the store keeps it expired for
//! `fail_safe` (`Request::keep_expired`, `expiry.rs`). The body is wrapped
//! where it runs (`fall_back`), inside the key's flight: the callers waiting
//! for that computation are handed the old value too, none runs the body
//! again, and the old value is not stored (`skips_store`). An invalidation
//! or a clean removes the entry (or changes its versions): nothing to fall
//! back on after it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::lookup::versions_of;
use super::{Found, Request};
use crate::__private::Cacheable;
use crate::codec;
use crate::driver::{run_blocking, Blocking, Driver};
use crate::local::LocalStore;
use crate::Result;

/// The keys of one cache whose calls get an expired value without running
/// the body, and until when.
pub(crate) struct Throttles {
    /// How long a key is throttled after its body failed behind `fail_safe`.
    throttle: Duration,
    /// By call (function, arguments).
    until: Mutex<HashMap<(u64, u128), Instant>>,
}

/// The most keys throttled at once: past it, a failing key's calls each run
/// the body (still answered by `fail_safe`) rather than grow the map.
const MAX_THROTTLED: usize = 10_000;

impl Throttles {
    pub(crate) fn new(throttle: Duration) -> Throttles {
        Throttles {
            throttle,
            until: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the calls of `key` must not run the body now.
    pub(crate) fn throttled(&self, key: (u64, u128)) -> bool {
        let mut until = self.until.lock();
        match until.get(&key) {
            Some(&at) if Instant::now() < at => true,
            Some(_) => {
                until.remove(&key);
                false
            }
            None => false,
        }
    }

    /// The calls of `key` don't run the body for the throttle from now.
    pub(crate) fn throttle(&self, key: (u64, u128)) {
        if self.throttle.is_zero() {
            return;
        }
        let now = Instant::now();
        let Some(at) = now.checked_add(self.throttle) else {
            return;
        };
        let mut until = self.until.lock();
        if until.len() >= MAX_THROTTLED {
            until.retain(|_, at| *at > now);
        }
        if until.len() < MAX_THROTTLED {
            until.insert(key, at);
        }
    }
}

impl<'c> Request<'c> {
    /// When the body fails, an entry that stopped being fresh less than
    /// `within` ago is returned instead; the entry is kept that long.
    pub fn fail_safe(mut self, within: Duration) -> Request<'c> {
        self.fail_safe = super::expiry::Window::new(within);
        self
    }

    /// The call's key, if `fail_safe` applies to it.
    fn fail_safe_key(&self) -> Option<(Duration, (u64, u128))> {
        let call = self.call?;
        Some((self.fail_safe.get()?, (call.function, call.args)))
    }

    /// [`get_or_compute_ok`](Request::get_or_compute_ok) of a `fail_safe`
    /// function (the macro calls it instead). Apart, so that the frames of
    /// the other functions' calls, which a recursion of cached functions
    /// stacks once per level, don't grow by its branch.
    pub fn get_or_compute_ok_fail_safe<T: Cacheable, E>(
        mut self,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let found = self.first_lookup_now();
        if let Found::Hit(value) = found {
            return Ok(value);
        }
        match self.local() {
            Some(local) => self.fail_safe_local_miss_now(local, found, body),
            None => run_blocking(self.fail_safe_after_miss(&Blocking, found, async { body() })),
        }
    }

    /// [`get_or_load`](Request::get_or_load) after a lookup that found
    /// `first`, through `fail_safe` if the function has it: what `_many`'s
    /// items call (`many.rs`).
    pub(crate) async fn get_or_load_after<D: Driver, T: Cacheable, E>(
        self,
        driver: &D,
        first: Found<T>,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        if self.fail_safe.get().is_none() {
            return self.get_or_load(driver, Some(first), body).await;
        }
        if let Found::Hit(value) = first {
            return Ok(value);
        }
        Box::pin(self.fail_safe_after_miss(driver, first, body)).await
    }

    /// [`get_or_load`](Request::get_or_load) after a miss, for a `fail_safe`
    /// function: a throttled key's expired value, or the miss with its body's
    /// failure answered by one.
    async fn fail_safe_after_miss<D: Driver, T: Cacheable, E>(
        &self,
        driver: &D,
        found: Found<T>,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        if let Some(old) = self.throttled(driver).await {
            return Ok(old);
        }
        let body = async { self.fall_back(driver, body.await).await };
        if let Some(local) = self.local() {
            let after_miss = Box::pin(self.local_after_miss(driver, local, found.into(), body));
            return self.observed(after_miss).await;
        }
        let after_miss = Box::pin(self.after_miss(driver, found, body));
        self.observed(after_miss).await
    }

    /// The same for a thread with a local store (see `local_miss.rs`).
    fn fail_safe_local_miss_now<T: Cacheable, E>(
        &self,
        local: &LocalStore,
        found: Found<T>,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        if let Some(old) = self.throttled_now() {
            return Ok(old);
        }
        let body = || self.fall_back_now(body());
        let found = found.into();
        self.observed_now(|| self.local_after_miss_now(local, found, body))
    }

    /// An expired value for a call of a throttled key (counted), if there is one.
    async fn throttled<D: Driver, T: Cacheable>(&self, driver: &D) -> Option<T> {
        let (within, key) = self.fail_safe_key()?;
        if !self.inner().throttles.throttled(key) {
            return None;
        }
        let old = self.expired_value(driver, within).await?;
        self.count_fail_safe(false);
        Some(old)
    }

    /// [`throttled`](Request::throttled) with a local store.
    fn throttled_now<T: Cacheable>(&self) -> Option<T> {
        let (within, key) = self.fail_safe_key()?;
        if !self.inner().throttles.throttled(key) {
            return None;
        }
        let old = self.local_expired_value(within)?;
        self.count_fail_safe(false);
        Some(old)
    }

    /// The body's `outcome`, or for an `Err` an expired value if there is
    /// one (then the key is throttled, and the value is not stored).
    async fn fall_back<D: Driver, T: Cacheable, E>(
        &self,
        driver: &D,
        outcome: Result<T, E>,
    ) -> Result<T, E> {
        let (Err(_), Some((within, key))) = (&outcome, self.fail_safe_key()) else {
            return outcome;
        };
        // On the heap: the read is the rare path, and the future of every
        // miss of a `fail_safe` function would otherwise hold it.
        match Box::pin(self.expired_value(driver, within)).await {
            Some(old) => Ok(self.answer_with_old(key, old)),
            None => outcome,
        }
    }

    /// [`fall_back`](Request::fall_back) with a local store.
    fn fall_back_now<T: Cacheable, E>(&self, outcome: Result<T, E>) -> Result<T, E> {
        let (Err(_), Some((within, key))) = (&outcome, self.fail_safe_key()) else {
            return outcome;
        };
        match self.local_expired_value(within) {
            Some(old) => Ok(self.answer_with_old(key, old)),
            None => outcome,
        }
    }

    /// `old` answers a failed body: counted, not stored, the key throttled.
    fn answer_with_old<T>(&self, key: (u64, u128), old: T) -> T {
        self.old_answer.store(true, Relaxed);
        self.count_fail_safe(true);
        self.inner().throttles.throttle(key);
        old
    }

    /// Whether the value to store is an expired one `fail_safe` returned.
    pub(crate) fn answered_with_old(&self) -> bool {
        self.old_answer.load(Relaxed)
    }

    /// The entry's value if it is current (its versions) and stopped being
    /// fresh less than `within` ago (or is still fresh).
    async fn expired_value<D: Driver, T: Cacheable>(
        &self,
        driver: &D,
        within: Duration,
    ) -> Option<T> {
        if self.local().is_some() {
            return self.local_expired_value(within);
        }
        let keys = self.lookup_keys();
        let values = match driver.get_many(&self.inner().backend, &keys).await {
            Ok(values) => values,
            Err(error) => {
                self.backend_failed("get", &self.entry_key, &error);
                return None;
            }
        };
        let [Some(entry), versions @ ..] = &values[..] else {
            return None;
        };
        let versions = versions_of(versions)?;
        let found = codec::decode_expired_too::<T>(entry, &versions)?;
        let recent = found
            .fresh_until
            .expired_for()
            .is_none_or(|ago| ago < within);
        recent.then_some(found.value)
    }

    /// [`expired_value`](Request::expired_value) in the local store.
    fn local_expired_value<T: Cacheable>(&self, within: Duration) -> Option<T> {
        self.local()?.kept_value(self.call?, within)
    }
}

/// The same for `async fn`.
#[cfg(feature = "tokio")]
impl Request<'_> {
    /// [`get_or_compute_ok_async`](Request::get_or_compute_ok_async) of a
    /// `fail_safe` function (see [`get_or_compute_ok_fail_safe`](Request::get_or_compute_ok_fail_safe)).
    pub async fn get_or_compute_ok_fail_safe_async<T: Cacheable, E>(
        mut self,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let driver = crate::driver::Tokio;
        let found = match self.pre_read.is_some() {
            true => self.first_lookup_now(),
            false => self.lookup(&driver).await,
        };
        if let Found::Hit(value) = found {
            return Ok(value);
        }
        Box::pin(self.fail_safe_after_miss(&driver, found, body)).await
    }
}
