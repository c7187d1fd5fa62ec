//! How a call waits: [`Blocking`] for plain functions, [`Tokio`] for `async fn`.
//!
//! The remote miss path (`call/`) is written once, as `async fn`s over a `Driver`.
//! The blocking driver does every operation on the spot and returns a future
//! that is already complete, so a sync call polls that code once
//! ([`run_blocking`]) and never yields. The tokio driver awaits instead:
//! in-process backends are called directly (they never wait on a network),
//! backends with a native async client ([`Backend::as_async`]: Redis) are
//! awaited, others (Memcached) run on tokio's blocking pool, so the executor
//! is never blocked.

use std::future::{ready, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::backend::{Backend, HeldLock, LoadStart, LockRequest, Value};
use crate::flight::{Waited, Waiter};
use crate::Result;

/// The operations whose waiting differs between threads and tasks.
pub(crate) trait Driver: Sync {
    /// Whether callers are threads (else tasks): the flights then tell a
    /// re-entrant call by its thread, and a lock left by a panic or an early
    /// return is released in place rather than on a spawned task.
    const IS_THREAD: bool;

    fn get_many<'a>(
        &'a self,
        backend: &'a Arc<dyn Backend>,
        keys: &'a [&'a str],
    ) -> impl Future<Output = Result<Vec<Option<Value>>>> + Send + 'a;

    fn begin_load<'a>(
        &'a self,
        backend: &'a Arc<dyn Backend>,
        lock: Option<LockRequest<'a>>,
        version_keys: &'a [&'a str],
        new_versions: &'a [Value],
        entry_key: &'a str,
    ) -> impl Future<Output = Result<LoadStart>> + Send + 'a;

    fn replace_if<'a>(
        &'a self,
        backend: &'a Arc<dyn Backend>,
        key: &'a str,
        seen: Option<&'a Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<HeldLock<'a>>,
    ) -> impl Future<Output = Result<bool>> + Send + 'a;

    fn set<'a>(
        &'a self,
        backend: &'a Arc<dyn Backend>,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<()>> + Send + 'a;

    fn unlock<'a>(
        &'a self,
        backend: &'a Arc<dyn Backend>,
        key: &'a str,
        token: u64,
    ) -> impl Future<Output = Result<()>> + Send + 'a;

    fn delete_many<'a>(
        &'a self,
        backend: &'a Arc<dyn Backend>,
        keys: &'a [&'a str],
    ) -> impl Future<Output = Result<()>> + Send + 'a;

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;

    fn wait(&self, waiter: Waiter, deadline: Instant) -> impl Future<Output = Waited> + Send;
}

/// Runs a future of the blocking driver, which is complete when first polled.
pub(crate) fn run_blocking<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the blocking driver never yields"),
    }
}

/// A thread that blocks on each operation.
pub(crate) struct Blocking;

impl Driver for Blocking {
    const IS_THREAD: bool = true;

    fn get_many<'a>(
        &'a self,
        backend: &'a Arc<dyn Backend>,
        keys: &'a [&'a str],
    ) -> impl Future<Output = Result<Vec<Option<Value>>>> + Send + 'a {
        ready(backend.get_many(keys))
    }

    fn begin_load<'a>(
        &'a self,
        backend: &'a Arc<dyn Backend>,
        lock: Option<LockRequest<'a>>,
        version_keys: &'a [&'a str],
        new_versions: &'a [Value],
        entry_key: &'a str,
    ) -> impl Future<Output = Result<LoadStart>> + Send + 'a {
        ready(backend.begin_load(lock, version_keys, new_versions, entry_key))
    }

    fn replace_if<'a>(
        &'a self,
        backend: &'a Arc<dyn Backend>,
        key: &'a str,
        seen: Option<&'a Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<HeldLock<'a>>,
    ) -> impl Future<Output = Result<bool>> + Send + 'a {
        ready(backend.replace_if(key, seen, value, ttl, release))
    }

    fn set<'a>(
        &'a self,
        backend: &'a Arc<dyn Backend>,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        ready(backend.set(key, value, ttl))
    }

    fn unlock<'a>(
        &'a self,
        backend: &'a Arc<dyn Backend>,
        key: &'a str,
        token: u64,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        ready(backend.unlock(key, token))
    }

    fn delete_many<'a>(
        &'a self,
        backend: &'a Arc<dyn Backend>,
        keys: &'a [&'a str],
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        ready(backend.delete_many(keys))
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        std::thread::sleep(duration);
        ready(())
    }

    fn wait(&self, waiter: Waiter, deadline: Instant) -> impl Future<Output = Waited> + Send {
        ready(waiter.wait(deadline))
    }
}

#[cfg(feature = "tokio")]
pub(crate) use tokio_driver::{off_executor, Tokio};

#[cfg(feature = "tokio")]
mod tokio_driver {
    use super::*;
    use crate::{Error, ErrorKind};

    /// A tokio task that awaits each operation.
    pub(crate) struct Tokio;

    /// Runs `operation` on tokio's blocking pool: the way to call a backend that
    /// blocks its thread without blocking the executor.
    pub(crate) async fn off_executor<T: Send + 'static>(
        backend: &Arc<dyn Backend>,
        operation: impl FnOnce(&dyn Backend) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let backend = Arc::clone(backend);
        match tokio::task::spawn_blocking(move || operation(&*backend)).await {
            Ok(outcome) => outcome,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => Err(Error::with_source(
                ErrorKind::Backend,
                "the backend call was cancelled",
                error,
            )),
        }
    }

    fn owned(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|key| key.to_string()).collect()
    }

    fn borrowed(keys: &[String]) -> Vec<&str> {
        keys.iter().map(String::as_str).collect()
    }

    impl Driver for Tokio {
        const IS_THREAD: bool = false;

        async fn get_many<'a>(
            &'a self,
            backend: &'a Arc<dyn Backend>,
            keys: &'a [&'a str],
        ) -> Result<Vec<Option<Value>>> {
            if backend.is_local() {
                return backend.get_many(keys);
            }
            if let Some(backend) = backend.as_async() {
                return backend.get_many(keys).await;
            }
            let keys = owned(keys);
            off_executor(backend, move |backend| backend.get_many(&borrowed(&keys))).await
        }

        async fn begin_load<'a>(
            &'a self,
            backend: &'a Arc<dyn Backend>,
            lock: Option<LockRequest<'a>>,
            version_keys: &'a [&'a str],
            new_versions: &'a [Value],
            entry_key: &'a str,
        ) -> Result<LoadStart> {
            if backend.is_local() {
                return backend.begin_load(lock, version_keys, new_versions, entry_key);
            }
            if let Some(backend) = backend.as_async() {
                return backend
                    .begin_load(lock, version_keys, new_versions, entry_key)
                    .await;
            }
            let lock = lock.map(|lock| (lock.key.to_owned(), lock.token, lock.ttl));
            let (version_keys, new_versions) = (owned(version_keys), new_versions.to_vec());
            let entry_key = entry_key.to_owned();
            off_executor(backend, move |backend| {
                let lock =
                    (lock.as_ref()).map(|(key, token, ttl)| LockRequest::new(key, *token, *ttl));
                backend.begin_load(lock, &borrowed(&version_keys), &new_versions, &entry_key)
            })
            .await
        }

        async fn replace_if<'a>(
            &'a self,
            backend: &'a Arc<dyn Backend>,
            key: &'a str,
            seen: Option<&'a Value>,
            value: Value,
            ttl: Option<Duration>,
            release: Option<HeldLock<'a>>,
        ) -> Result<bool> {
            if backend.is_local() {
                return backend.replace_if(key, seen, value, ttl, release);
            }
            if let Some(backend) = backend.as_async() {
                return backend.replace_if(key, seen, value, ttl, release).await;
            }
            let (key, seen) = (key.to_owned(), seen.cloned());
            let release = release.map(|lock| (lock.key.to_owned(), lock.token));
            off_executor(backend, move |backend| {
                let release = (release.as_ref()).map(|(key, token)| HeldLock::new(key, *token));
                backend.replace_if(&key, seen.as_ref(), value, ttl, release)
            })
            .await
        }

        async fn set<'a>(
            &'a self,
            backend: &'a Arc<dyn Backend>,
            key: &'a str,
            value: Value,
            ttl: Option<Duration>,
        ) -> Result<()> {
            if backend.is_local() {
                return backend.set(key, value, ttl);
            }
            if let Some(backend) = backend.as_async() {
                return backend.set(key, value, ttl).await;
            }
            let key = key.to_owned();
            off_executor(backend, move |backend| backend.set(&key, value, ttl)).await
        }

        async fn unlock<'a>(
            &'a self,
            backend: &'a Arc<dyn Backend>,
            key: &'a str,
            token: u64,
        ) -> Result<()> {
            if backend.is_local() {
                return backend.unlock(key, token);
            }
            if let Some(backend) = backend.as_async() {
                return backend.unlock(key, token).await;
            }
            let key = key.to_owned();
            off_executor(backend, move |backend| backend.unlock(&key, token)).await
        }

        async fn delete_many<'a>(
            &'a self,
            backend: &'a Arc<dyn Backend>,
            keys: &'a [&'a str],
        ) -> Result<()> {
            if backend.is_local() {
                return backend.delete_many(keys);
            }
            if let Some(backend) = backend.as_async() {
                return backend.delete_many(keys).await;
            }
            let keys = owned(keys);
            off_executor(backend, move |backend| {
                backend.delete_many(&borrowed(&keys))
            })
            .await
        }

        fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
            tokio::time::sleep(duration)
        }

        fn wait(&self, waiter: Waiter, deadline: Instant) -> impl Future<Output = Waited> + Send {
            waiter.wait_async(deadline)
        }
    }
}
