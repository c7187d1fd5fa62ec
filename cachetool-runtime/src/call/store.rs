//! Running the body and storing its value in a remote backend, by
//! compare-and-set, releasing the lock in the same round trip.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use super::expiry::kept_for;
use super::outcome::{Miss, StoreOutcome};
use super::Request;
use crate::__private::Cacheable;
use crate::backend::{HeldLock, Value};
use crate::codec;
use crate::driver::Driver;
use crate::flight::Shared;
use crate::handover::{Handed, View};
use crate::local::clock;
use crate::{Error, ErrorKind, Result};

impl Request<'_> {
    pub(crate) async fn load_and_store<D: Driver, T: Cacheable, E>(
        &self,
        driver: &D,
        miss: Miss,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.compute_and_store(driver, miss, body, None).await.0
    }

    /// Runs the body and stores its value, releasing `held` with the store.
    /// Also says what became of the store (whether `held` was released among it).
    pub(crate) async fn compute_and_store<D: Driver, T: Cacheable, E>(
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
        let started = clock::now();
        let outcome = pin!(body).await;
        self.count_load(clock::since(started), outcome.is_err());
        outcome
    }

    /// [`load`](Request::load), for a body that runs in place.
    pub(crate) fn load_now<T, E>(&self, body: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let started = clock::now();
        let outcome = body();
        self.count_load(clock::since(started), outcome.is_err());
        outcome
    }

    /// Stores `value`, computed under `versions`, unless the entry changed since
    /// it was read as `seen` (an invalidation, or another caller's store), and
    /// releases `held` in the same round trip (see [`StoreOutcome::released_lock`]).
    pub(crate) async fn store<D: Driver, T: Cacheable>(
        &self,
        driver: &D,
        versions: &[u64],
        seen: Option<&Value>,
        value: &T,
        held: Option<HeldLock<'_>>,
    ) -> StoreOutcome {
        let inner = self.inner();
        // A value that `unless` rejects still goes to the waiters.
        let ttl = self.entry_ttl(value);
        if ttl == Some(Duration::ZERO) || self.skips_store(value) {
            return StoreOutcome::NotStored;
        }
        let fresh_until = codec::FreshUntil::after(ttl);
        let ttl = kept_for(ttl, self.keep_expired());
        let entry = match codec::encode(inner.stores_objects, versions, fresh_until, value) {
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
        let stored = if inner.backend.in_process {
            let store = || (inner.backend).replace_if(&self.entry_key, seen, entry, ttl, held);
            match inner.invalidations.store_locally(self.mark, store) {
                Some(stored) => stored,
                None => return StoreOutcome::Overtaken,
            }
        } else {
            if !inner.invalidations.unchanged_since(self.mark) {
                return StoreOutcome::Overtaken;
            }
            driver
                .replace_if(&inner.backend, &self.entry_key, seen, entry, ttl, held)
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

    pub(crate) async fn unlock<D: Driver>(&self, driver: &D, lock_key: &str, token: u64) {
        let backend = &self.inner().backend;
        if let Err(error) = driver.unlock(backend, lock_key, token).await {
            self.backend_failed("unlock", lock_key, &error);
        }
    }
}

/// The value for the waiters, with the view its computation started from.
pub(crate) fn share<T: Cacheable>(value: &T, view: Option<View>) -> Shared {
    Arc::new(Handed {
        value: value.clone(),
        view,
    })
}
