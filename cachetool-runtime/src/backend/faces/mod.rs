//! A cache's backend as its callers reach it, decided once when the cache is
//! built ([`Faces::new`]): its blocking methods for threads, one async face
//! for tasks, and whether it keeps its entries in this process.
//!
//! The async face is one [`AsyncBackend`] whatever the backend:
//! - a backend in this process ([`Backend::is_local`]) is called in place: it
//!   never waits on a network;
//! - one with a native async client ([`Backend::as_async`]: Redis) is
//!   awaited;
//! - any other (Memcached) runs on tokio's blocking pool, so that a task
//!   never blocks the executor's thread.
//!
//! So the tokio driver (`driver.rs`) awaits the face and asks nothing.

use std::ops::Deref;
use std::sync::Arc;

#[cfg(feature = "tokio")]
use super::AsyncBackend;
use super::Backend;

/// A backend and how it is reached.
#[derive(Clone)]
pub(crate) struct Faces {
    /// Its own methods, which block the calling thread.
    pub(crate) blocking: Arc<dyn Backend>,
    /// Its async face.
    #[cfg(feature = "tokio")]
    pub(crate) tasks: Arc<dyn AsyncBackend>,
    /// Whether it keeps its entries in this process ([`Backend::is_local`],
    /// asked once): no lock is shared with other processes, and nothing
    /// waits on a network.
    pub(crate) in_process: bool,
}

impl Faces {
    pub(crate) fn new(backend: Arc<dyn Backend>) -> Faces {
        Faces {
            #[cfg(feature = "tokio")]
            tasks: for_tasks::face(&backend),
            in_process: backend.is_local(),
            blocking: backend,
        }
    }
}

/// The backend's own methods, as before: `faces.name()`, `faces.get_many(..)`.
impl Deref for Faces {
    type Target = dyn Backend;

    fn deref(&self) -> &(dyn Backend + 'static) {
        &*self.blocking
    }
}

#[cfg(feature = "tokio")]
mod for_tasks {
    use std::future::ready;
    use std::sync::Arc;
    use std::time::Duration;

    use crate::backend::{
        AsyncBackend, Backend, BackendFuture, HeldLock, LoadStart, LockRequest, ReplaceIf, Value,
        WritesFuture,
    };
    use crate::{Error, ErrorKind, Result};

    /// The async face of `backend`.
    pub(super) fn face(backend: &Arc<dyn Backend>) -> Arc<dyn AsyncBackend> {
        let backend = Arc::clone(backend);
        if backend.is_local() {
            Arc::new(InPlace(backend))
        } else if backend.as_async().is_some() {
            let pool = OnBlockingPool(Arc::clone(&backend));
            Arc::new(Native { backend, pool })
        } else {
            Arc::new(OnBlockingPool(backend))
        }
    }

    /// A backend in this process, called in place.
    struct InPlace(Arc<dyn Backend>);

    impl AsyncBackend for InPlace {
        fn get_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, Vec<Option<Value>>> {
            Box::pin(ready(self.0.get_many(keys)))
        }

        fn set<'a>(
            &'a self,
            key: &'a str,
            value: Value,
            ttl: Option<Duration>,
        ) -> BackendFuture<'a, ()> {
            Box::pin(ready(self.0.set(key, value, ttl)))
        }

        fn replace_if<'a>(
            &'a self,
            key: &'a str,
            seen: Option<&'a Value>,
            value: Value,
            ttl: Option<Duration>,
            release: Option<HeldLock<'a>>,
        ) -> BackendFuture<'a, bool> {
            Box::pin(ready(self.0.replace_if(key, seen, value, ttl, release)))
        }

        fn replace_if_many<'a>(&'a self, writes: Vec<ReplaceIf<'a>>) -> WritesFuture<'a> {
            Box::pin(ready(self.0.replace_if_many(writes)))
        }

        fn delete_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, ()> {
            Box::pin(ready(self.0.delete_many(keys)))
        }

        fn unlock<'a>(&'a self, key: &'a str, token: u64) -> BackendFuture<'a, ()> {
            Box::pin(ready(self.0.unlock(key, token)))
        }

        fn begin_load<'a>(
            &'a self,
            lock: Option<LockRequest<'a>>,
            version_keys: &'a [&'a str],
            new_versions: &'a [Value],
            entry_key: &'a str,
        ) -> BackendFuture<'a, LoadStart> {
            Box::pin(ready(self.0.begin_load(
                lock,
                version_keys,
                new_versions,
                entry_key,
            )))
        }
    }

    /// A backend with a native async client ([`Backend::as_async`]), asked
    /// for it on each call; a call that finds none runs on the blocking pool,
    /// as the tokio driver always did.
    struct Native {
        backend: Arc<dyn Backend>,
        pool: OnBlockingPool,
    }

    impl Native {
        /// What this call goes to: the client, or the blocking pool if the
        /// backend offers none now.
        fn reach(&self) -> &dyn AsyncBackend {
            match self.backend.as_async() {
                Some(client) => client,
                None => &self.pool,
            }
        }
    }

    impl AsyncBackend for Native {
        fn get_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, Vec<Option<Value>>> {
            self.reach().get_many(keys)
        }

        fn set<'a>(
            &'a self,
            key: &'a str,
            value: Value,
            ttl: Option<Duration>,
        ) -> BackendFuture<'a, ()> {
            self.reach().set(key, value, ttl)
        }

        fn replace_if<'a>(
            &'a self,
            key: &'a str,
            seen: Option<&'a Value>,
            value: Value,
            ttl: Option<Duration>,
            release: Option<HeldLock<'a>>,
        ) -> BackendFuture<'a, bool> {
            self.reach().replace_if(key, seen, value, ttl, release)
        }

        fn replace_if_many<'a>(&'a self, writes: Vec<ReplaceIf<'a>>) -> WritesFuture<'a> {
            self.reach().replace_if_many(writes)
        }

        fn delete_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, ()> {
            self.reach().delete_many(keys)
        }

        fn unlock<'a>(&'a self, key: &'a str, token: u64) -> BackendFuture<'a, ()> {
            self.reach().unlock(key, token)
        }

        fn begin_load<'a>(
            &'a self,
            lock: Option<LockRequest<'a>>,
            version_keys: &'a [&'a str],
            new_versions: &'a [Value],
            entry_key: &'a str,
        ) -> BackendFuture<'a, LoadStart> {
            self.reach()
                .begin_load(lock, version_keys, new_versions, entry_key)
        }
    }

    /// A backend that only blocks: each call runs on tokio's blocking pool,
    /// with its arguments copied there.
    struct OnBlockingPool(Arc<dyn Backend>);

    /// Runs `operation` on tokio's blocking pool: the way to call a backend
    /// that blocks its thread without blocking the executor.
    async fn off_executor<T: Send + 'static>(
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

    /// A write of `replace_if_many`, owned: (key, seen, value, ttl, release).
    type OwnedWrite = (
        String,
        Option<Value>,
        Value,
        Option<Duration>,
        Option<(String, u64)>,
    );

    impl AsyncBackend for OnBlockingPool {
        fn get_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, Vec<Option<Value>>> {
            let keys = owned(keys);
            Box::pin(off_executor(&self.0, move |backend| {
                backend.get_many(&borrowed(&keys))
            }))
        }

        fn set<'a>(
            &'a self,
            key: &'a str,
            value: Value,
            ttl: Option<Duration>,
        ) -> BackendFuture<'a, ()> {
            let key = key.to_owned();
            Box::pin(off_executor(&self.0, move |backend| {
                backend.set(&key, value, ttl)
            }))
        }

        fn replace_if<'a>(
            &'a self,
            key: &'a str,
            seen: Option<&'a Value>,
            value: Value,
            ttl: Option<Duration>,
            release: Option<HeldLock<'a>>,
        ) -> BackendFuture<'a, bool> {
            let (key, seen) = (key.to_owned(), seen.cloned());
            let release = release.map(|lock| (lock.key.to_owned(), lock.token));
            Box::pin(off_executor(&self.0, move |backend| {
                let release = (release.as_ref()).map(|(key, token)| HeldLock::new(key, *token));
                backend.replace_if(&key, seen.as_ref(), value, ttl, release)
            }))
        }

        fn replace_if_many<'a>(&'a self, writes: Vec<ReplaceIf<'a>>) -> WritesFuture<'a> {
            let count = writes.len();
            let writes: Vec<OwnedWrite> = writes
                .into_iter()
                .map(|write| {
                    let release = write.release.map(|lock| (lock.key.to_owned(), lock.token));
                    let seen = write.seen.cloned();
                    (write.key.to_owned(), seen, write.value, write.ttl, release)
                })
                .collect();
            let sent = off_executor(&self.0, move |backend| {
                let writes = writes
                    .iter()
                    .map(|(key, seen, value, ttl, release)| {
                        let release =
                            (release.as_ref()).map(|(key, token)| HeldLock::new(key, *token));
                        ReplaceIf::new(key, seen.as_ref(), value.clone(), *ttl, release)
                    })
                    .collect();
                Ok(backend.replace_if_many(writes))
            });
            Box::pin(async move {
                sent.await
                    .unwrap_or_else(|error| crate::backend::each_failed(error, count))
            })
        }

        fn delete_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, ()> {
            let keys = owned(keys);
            Box::pin(off_executor(&self.0, move |backend| {
                backend.delete_many(&borrowed(&keys))
            }))
        }

        fn unlock<'a>(&'a self, key: &'a str, token: u64) -> BackendFuture<'a, ()> {
            let key = key.to_owned();
            Box::pin(off_executor(&self.0, move |backend| {
                backend.unlock(&key, token)
            }))
        }

        fn begin_load<'a>(
            &'a self,
            lock: Option<LockRequest<'a>>,
            version_keys: &'a [&'a str],
            new_versions: &'a [Value],
            entry_key: &'a str,
        ) -> BackendFuture<'a, LoadStart> {
            let lock = lock.map(|lock| (lock.key.to_owned(), lock.token, lock.ttl));
            let (version_keys, new_versions) = (owned(version_keys), new_versions.to_vec());
            let entry_key = entry_key.to_owned();
            Box::pin(off_executor(&self.0, move |backend| {
                let lock =
                    (lock.as_ref()).map(|(key, token, ttl)| LockRequest::new(key, *token, *ttl));
                backend.begin_load(lock, &borrowed(&version_keys), &new_versions, &entry_key)
            }))
        }
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests;
