//! The [`Cache`]: a namespace in a backend, with its settings and counters.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Backend, Faces, MemoryBackend};
use crate::background::Revalidations;
use crate::call::Throttles;
use crate::codec;
use crate::driver::{run_blocking, Blocking, Driver};
use crate::durations;
use crate::flight::Flights;
use crate::invalidations::Invalidations;
use crate::key::Namespace;
use crate::local::{tag_hash, LocalStore};
use crate::near::NearTier;
use crate::observe;
use crate::stats::{Counters, Stats};
use crate::{CacheBuilder, Result};

/// A cache: where `#[cached]` functions keep their entries.
///
/// Cloning is cheap and clones share everything (backend, counters, in-flight
/// computations). Two caches with different prefixes may share one backend
/// without seeing each other's entries.
#[derive(Clone)]
pub struct Cache {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The backend, with its async face and whether it is in this process,
    /// decided once (`backend/faces/`).
    pub(crate) backend: Faces,
    pub(crate) namespace: Namespace,
    pub(crate) default_ttl: Option<Duration>,
    pub(crate) lock_timeout: Duration,
    pub(crate) max_value_size: usize,
    /// The keys whose body `fail_safe` answered, not to run again for a while.
    pub(crate) throttles: Throttles,
    /// The keys recomputed in the background (`stale`, `refresh_ahead`), and
    /// the threads that do it for sync functions.
    pub(crate) revalidations: Revalidations,
    /// Whether the backend keeps typed objects (decided once, asked on every call).
    pub(crate) stores_objects: bool,
    /// With the memory backend: its tier, which calls use directly, keyed by
    /// identity (`local/call.rs`); `None`: every call goes to the backend
    /// (`call/miss.rs` and the files beside it).
    pub(crate) local: Option<LocalStore>,
    /// With a remote backend and `local(n)`: the tier kept in front of it
    /// (`near/`), which the first look reads and remote hits fill.
    pub(crate) near: Option<NearTier>,
    pub(crate) counters: Counters,
    /// Shared by the caches of one namespace in one memory backend.
    pub(crate) flights: Arc<Flights>,
    /// Shared by the caches of one namespace in one memory backend.
    pub(crate) invalidations: Arc<Invalidations>,
}

/// What a cache is made of, as its builder checked them.
pub(crate) struct Parts<'a> {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) prefix: &'a str,
    pub(crate) default_ttl: Option<Duration>,
    pub(crate) lock_timeout: Duration,
    pub(crate) max_value_size: usize,
    pub(crate) fail_safe_throttle: Duration,
    pub(crate) near: Option<NearTier>,
}

impl Cache {
    /// A cache of checked parts. Decided here, once: with the memory
    /// backend, calls use its tier directly (with the namespace's shared
    /// flights and invalidation counts); with any other, the backend.
    pub(crate) fn new(parts: Parts<'_>) -> Cache {
        let Parts {
            backend,
            prefix,
            default_ttl,
            lock_timeout,
            max_value_size,
            fail_safe_throttle,
            near,
        } = parts;
        // The clock calibrates itself on first use (about a millisecond, at
        // most 200 ms on a machine too busy to agree with itself): here, at
        // build, rather than in some caller's first miss.
        crate::local::clock::now();
        let any: Arc<dyn Any + Send + Sync> = Arc::clone(&backend) as _;
        let local = (any.downcast::<MemoryBackend>().ok())
            .map(|memory| LocalStore::new(Arc::clone(memory.tier()), prefix));
        let (flights, invalidations) = match &local {
            Some(local) => (
                Arc::clone(&local.namespace.flights),
                Arc::clone(&local.namespace.invalidations),
            ),
            None => (Arc::new(Flights::new()), Arc::new(Invalidations::new())),
        };
        Cache {
            inner: Arc::new(Inner {
                stores_objects: backend.stores_objects(),
                backend: Faces::new(backend),
                local,
                near,
                namespace: Namespace::new(prefix),
                // A TTL or timeout of a century or more (`Duration::MAX`) is "never".
                default_ttl: durations::finite_ttl(default_ttl),
                lock_timeout: durations::bounded(lock_timeout),
                max_value_size,
                throttles: Throttles::new(durations::bounded(fail_safe_throttle)),
                revalidations: Revalidations::new(durations::bounded(fail_safe_throttle)),
                counters: Counters::default(),
                flights,
                invalidations,
            }),
        }
    }

    /// An in-memory cache with the default settings (see [`CacheBuilder`]).
    pub fn memory() -> Cache {
        Cache::builder()
            .build()
            .expect("the default settings are valid")
    }

    /// A cache in the backend that `url` names, with the default settings: see
    /// [`CacheBuilder::url`]. Connections open lazily; this never blocks on the network.
    pub fn from_url(url: &str) -> Result<Cache> {
        Cache::builder().url(url)?.build()
    }

    /// What the backend's servers say about themselves (hits, misses, items,
    /// memory), where the backend can tell.
    pub fn server_stats(&self) -> Result<crate::ServerStats> {
        self.inner.backend.server_stats()
    }

    /// Settings for a new cache.
    pub fn builder() -> CacheBuilder {
        CacheBuilder::new()
    }

    /// Drops every entry tagged with any of `tags`, in every function and every
    /// process that shares the backend: one delete of the tags' version keys,
    /// whatever the number of entries.
    pub fn clean<T: AsRef<str>>(&self, tags: &[T]) -> Result<()> {
        run_blocking(self.clean_with(&Blocking, tags))
    }

    /// Drops every entry of this cache's namespace (its prefix) by giving the
    /// namespace a new epoch. Other prefixes on the same backend are untouched;
    /// the server is never flushed.
    pub fn clean_all(&self) -> Result<()> {
        run_blocking(self.clean_all_with(&Blocking))
    }

    /// [`clean`](Cache::clean) for async code: never blocks the executor.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn clean_async<T: AsRef<str>>(&self, tags: &[T]) -> Result<()> {
        self.clean_with(&crate::driver::Tokio, tags).await
    }

    /// [`clean_all`](Cache::clean_all) for async code: never blocks the executor.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn clean_all_async(&self) -> Result<()> {
        self.clean_all_with(&crate::driver::Tokio).await
    }

    async fn clean_with<D: Driver, T: AsRef<str>>(&self, driver: &D, tags: &[T]) -> Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        if let Some(local) = &self.inner.local {
            let hashes = tags.iter().map(|tag| tag_hash(tag.as_ref()));
            local.namespace.clean_tags(hashes);
            self.inner.invalidations.cleaned();
            return Ok(());
        }
        let keys: Vec<String> = tags
            .iter()
            .map(|tag| self.inner.namespace.tag_key(tag.as_ref()))
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let outcome = driver.delete_many(&self.inner.backend, &keys).await;
        // Whether or not the server answered: this process sees the clean.
        let hashes = tags.iter().map(|tag| tag_hash(tag.as_ref()));
        crate::near::clean_tags_everywhere(self.prefix(), hashes);
        self.inner.invalidations.cleaned();
        if let Err(error) = &outcome {
            observe::returned_error(self, "clean", &keys.join(" "), error);
        }
        outcome
    }

    async fn clean_all_with<D: Driver>(&self, driver: &D) -> Result<()> {
        if let Some(local) = &self.inner.local {
            local.namespace.new_epoch();
            self.inner.invalidations.cleaned();
            return Ok(());
        }
        let epoch_key = self.inner.namespace.epoch_key();
        let outcome = driver
            .set(&self.inner.backend, epoch_key, codec::new_version(), None)
            .await;
        crate::near::new_epoch_everywhere(self.prefix());
        self.inner.invalidations.cleaned();
        if let Err(error) = &outcome {
            observe::returned_error(self, "clean_all", epoch_key, error);
        }
        outcome
    }

    /// How many calls have joined another call's computation of the same key
    /// (in this process) to wait for its value, so far. For tests, which wait
    /// for a caller to be waiting rather than sleep; not a stable API.
    #[doc(hidden)]
    pub fn __flight_joins(&self) -> u64 {
        self.inner.flights.joins()
    }

    /// How many recomputations in the background (`stale`, `refresh_ahead`)
    /// are running or queued now. For tests, which wait for them to end
    /// rather than sleep; not a stable API.
    #[doc(hidden)]
    pub fn __recomputations_running(&self) -> usize {
        self.inner.revalidations.running()
    }

    /// Whether the local tier in front of Redis or Memcached is in use now
    /// (its change channel is up); `None` without one. For tests, which wait
    /// for the channel rather than sleep; not a stable API.
    #[doc(hidden)]
    pub fn __local_tier_listening(&self) -> Option<bool> {
        self.inner.near.as_ref().map(NearTier::listening)
    }

    /// The counters since this cache was built, of all its functions.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// Each function's counters since this cache was built, by the function's
    /// identity in keys: its path (`app.users.load_user`) or its `name`, with
    /// `@v{N}` for a `version`. A generic function's instantiations count
    /// together, and functions sharing a `name` share counters. Counting costs
    /// a call no lock and, after the function's first call, no allocation.
    /// (The first 8,192 functions of a process are counted apart; calls of
    /// any later one count only in [`stats`](Cache::stats).)
    pub fn stats_by_function(&self) -> HashMap<String, Stats> {
        let mut by_function = HashMap::<String, Stats>::new();
        for function in self.inner.counters.functions.iter() {
            let stats = function.snapshot();
            by_function
                .entry(function.path().to_owned())
                .or_default()
                .add(&stats);
        }
        by_function
    }

    /// The prefix of every key of this cache.
    pub fn prefix(&self) -> &str {
        self.inner.namespace.prefix()
    }

    /// The TTL of entries whose function sets none; `None`: until evicted or invalidated.
    pub fn default_ttl(&self) -> Option<Duration> {
        self.inner.default_ttl
    }

    /// How long a caller waits for another's computation of the same key before
    /// computing by itself; also the expiry of the cross-process lock.
    pub fn lock_timeout(&self) -> Duration {
        self.inner.lock_timeout
    }

    /// The largest encoded value given to a byte backend (Redis, Memcached);
    /// larger ones are not stored.
    pub fn max_value_size(&self) -> usize {
        self.inner.max_value_size
    }

    /// The backend this cache keeps its entries in.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend.blocking
    }
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("backend", &self.inner.backend.name())
            .field("prefix", &self.prefix())
            .field("default_ttl", &self.inner.default_ttl)
            .field("lock_timeout", &self.inner.lock_timeout)
            .finish_non_exhaustive()
    }
}
