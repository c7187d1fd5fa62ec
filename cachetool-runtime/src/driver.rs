//! How a call waits: [`Blocking`] for plain functions, [`Tokio`] for `async fn`.
//!
//! The remote miss path (`call/`) is written once, as `async fn`s over a `Driver`.
//! The blocking driver does every operation on the spot and returns a future
//! that is already complete, so a sync call polls that code once
//! ([`run_blocking`]) and never yields. The tokio driver awaits instead, on
//! the backend's one async face, chosen when the cache was built
//! (`backend/faces/`).

use std::future::{ready, Future};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::backend::{Faces, HeldLock, LoadStart, LockRequest, Value};
use crate::flight::{Waited, Waiter};
use crate::Result;

/// The operations whose waiting differs between threads and tasks.
///
/// A future of these may make its backend call when it is created, not when
/// first polled (the blocking driver's always do, and so do the tokio
/// driver's on an in-process backend): a caller awaits each at once, and
/// must not build one it might drop unpolled.
pub(crate) trait Driver: Sync {
    /// Whether callers are threads (else tasks): the flights then tell a
    /// re-entrant call by its thread, and a lock left by a panic or an early
    /// return is released in place rather than on a spawned task.
    const IS_THREAD: bool;

    fn get_many<'a>(
        &'a self,
        backend: &'a Faces,
        keys: &'a [&'a str],
    ) -> impl Future<Output = Result<Vec<Option<Value>>>> + Send + 'a;

    fn begin_load<'a>(
        &'a self,
        backend: &'a Faces,
        lock: Option<LockRequest<'a>>,
        version_keys: &'a [&'a str],
        new_versions: &'a [Value],
        entry_key: &'a str,
    ) -> impl Future<Output = Result<LoadStart>> + Send + 'a;

    fn replace_if<'a>(
        &'a self,
        backend: &'a Faces,
        key: &'a str,
        seen: Option<&'a Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<HeldLock<'a>>,
    ) -> impl Future<Output = Result<bool>> + Send + 'a;

    fn set<'a>(
        &'a self,
        backend: &'a Faces,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<()>> + Send + 'a;

    fn unlock<'a>(
        &'a self,
        backend: &'a Faces,
        key: &'a str,
        token: u64,
    ) -> impl Future<Output = Result<()>> + Send + 'a;

    fn delete_many<'a>(
        &'a self,
        backend: &'a Faces,
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
        backend: &'a Faces,
        keys: &'a [&'a str],
    ) -> impl Future<Output = Result<Vec<Option<Value>>>> + Send + 'a {
        ready(backend.get_many(keys))
    }

    fn begin_load<'a>(
        &'a self,
        backend: &'a Faces,
        lock: Option<LockRequest<'a>>,
        version_keys: &'a [&'a str],
        new_versions: &'a [Value],
        entry_key: &'a str,
    ) -> impl Future<Output = Result<LoadStart>> + Send + 'a {
        ready(backend.begin_load(lock, version_keys, new_versions, entry_key))
    }

    fn replace_if<'a>(
        &'a self,
        backend: &'a Faces,
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
        backend: &'a Faces,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        ready(backend.set(key, value, ttl))
    }

    fn unlock<'a>(
        &'a self,
        backend: &'a Faces,
        key: &'a str,
        token: u64,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        ready(backend.unlock(key, token))
    }

    fn delete_many<'a>(
        &'a self,
        backend: &'a Faces,
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
pub(crate) use tokio_driver::Tokio;

#[cfg(feature = "tokio")]
mod tokio_driver {
    use super::*;

    /// A tokio task that awaits each operation, on the backend's async face
    /// (chosen once for the cache: see `backend/faces/`).
    pub(crate) struct Tokio;

    impl Driver for Tokio {
        const IS_THREAD: bool = false;

        fn get_many<'a>(
            &'a self,
            backend: &'a Faces,
            keys: &'a [&'a str],
        ) -> impl Future<Output = Result<Vec<Option<Value>>>> + Send + 'a {
            backend.tasks.get_many(keys)
        }

        fn begin_load<'a>(
            &'a self,
            backend: &'a Faces,
            lock: Option<LockRequest<'a>>,
            version_keys: &'a [&'a str],
            new_versions: &'a [Value],
            entry_key: &'a str,
        ) -> impl Future<Output = Result<LoadStart>> + Send + 'a {
            (backend.tasks).begin_load(lock, version_keys, new_versions, entry_key)
        }

        fn replace_if<'a>(
            &'a self,
            backend: &'a Faces,
            key: &'a str,
            seen: Option<&'a Value>,
            value: Value,
            ttl: Option<Duration>,
            release: Option<HeldLock<'a>>,
        ) -> impl Future<Output = Result<bool>> + Send + 'a {
            (backend.tasks).replace_if(key, seen, value, ttl, release)
        }

        fn set<'a>(
            &'a self,
            backend: &'a Faces,
            key: &'a str,
            value: Value,
            ttl: Option<Duration>,
        ) -> impl Future<Output = Result<()>> + Send + 'a {
            backend.tasks.set(key, value, ttl)
        }

        fn unlock<'a>(
            &'a self,
            backend: &'a Faces,
            key: &'a str,
            token: u64,
        ) -> impl Future<Output = Result<()>> + Send + 'a {
            backend.tasks.unlock(key, token)
        }

        fn delete_many<'a>(
            &'a self,
            backend: &'a Faces,
            keys: &'a [&'a str],
        ) -> impl Future<Output = Result<()>> + Send + 'a {
            backend.tasks.delete_many(keys)
        }

        fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
            tokio::time::sleep(duration)
        }

        fn wait(&self, waiter: Waiter, deadline: Instant) -> impl Future<Output = Waited> + Send {
            waiter.wait_async(deadline)
        }
    }
}
