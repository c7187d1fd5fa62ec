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
            Arc::new(Native(backend))
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

    /// A backend with a native async client ([`Backend::as_async`]).
    struct Native(Arc<dyn Backend>);

    impl Native {
        /// The client: the backend offered it when the face was chosen, and
        /// a backend that stops offering it breaks [`Backend::as_async`]'s
        /// contract, which its callers see as an error, not a panic.
        fn client<'a, T: Send + 'a>(
            &'a self,
            call: impl FnOnce(&'a dyn AsyncBackend) -> BackendFuture<'a, T>,
        ) -> BackendFuture<'a, T> {
            match self.0.as_async() {
                Some(client) => call(client),
                None => Box::pin(ready(Err(self.gone()))),
            }
        }

        fn gone(&self) -> Error {
            let name = self.0.name();
            let message = format!("the {name} backend offered an async client, then none");
            Error::new(ErrorKind::Backend, message)
        }
    }

    impl AsyncBackend for Native {
        fn get_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, Vec<Option<Value>>> {
            self.client(|client| client.get_many(keys))
        }

        fn set<'a>(
            &'a self,
            key: &'a str,
            value: Value,
            ttl: Option<Duration>,
        ) -> BackendFuture<'a, ()> {
            self.client(|client| client.set(key, value, ttl))
        }

        fn replace_if<'a>(
            &'a self,
            key: &'a str,
            seen: Option<&'a Value>,
            value: Value,
            ttl: Option<Duration>,
            release: Option<HeldLock<'a>>,
        ) -> BackendFuture<'a, bool> {
            self.client(|client| client.replace_if(key, seen, value, ttl, release))
        }

        fn replace_if_many<'a>(&'a self, writes: Vec<ReplaceIf<'a>>) -> WritesFuture<'a> {
            match self.0.as_async() {
                Some(client) => client.replace_if_many(writes),
                None => Box::pin(ready(crate::backend::each_failed(
                    self.gone(),
                    writes.len(),
                ))),
            }
        }

        fn delete_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, ()> {
            self.client(|client| client.delete_many(keys))
        }

        fn unlock<'a>(&'a self, key: &'a str, token: u64) -> BackendFuture<'a, ()> {
            self.client(|client| client.unlock(key, token))
        }

        fn begin_load<'a>(
            &'a self,
            lock: Option<LockRequest<'a>>,
            version_keys: &'a [&'a str],
            new_versions: &'a [Value],
            entry_key: &'a str,
        ) -> BackendFuture<'a, LoadStart> {
            self.client(|client| client.begin_load(lock, version_keys, new_versions, entry_key))
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
mod tests {
    use std::thread::ThreadId;
    use std::time::Duration;

    use bytes::Bytes;
    use parking_lot::Mutex;

    use super::*;
    use crate::backend::{HeldLock, LoadStart, LockRequest, MemoryBackend, ReplaceIf, Value};
    use crate::Result;

    /// A backend that notes the thread of each call (`local`: whether it
    /// says it is in this process).
    struct Recorder {
        store: MemoryBackend,
        local: bool,
        threads: Mutex<Vec<ThreadId>>,
    }

    impl Recorder {
        fn note(&self) {
            self.threads.lock().push(std::thread::current().id());
        }
    }

    impl Backend for Recorder {
        fn name(&self) -> &str {
            "recorder"
        }
        fn is_local(&self) -> bool {
            self.local
        }
        fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Value>>> {
            self.note();
            self.store.get_many(keys)
        }
        fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()> {
            self.note();
            self.store.set(key, value, ttl)
        }
        fn replace_if(
            &self,
            key: &str,
            seen: Option<&Value>,
            value: Value,
            ttl: Option<Duration>,
            release: Option<HeldLock<'_>>,
        ) -> Result<bool> {
            self.note();
            self.store.replace_if(key, seen, value, ttl, release)
        }
        fn delete_many(&self, keys: &[&str]) -> Result<()> {
            self.note();
            self.store.delete_many(keys)
        }
        fn unlock(&self, key: &str, token: u64) -> Result<()> {
            self.note();
            self.store.unlock(key, token)
        }
        fn begin_load(
            &self,
            lock: Option<LockRequest<'_>>,
            version_keys: &[&str],
            new_versions: &[Value],
            entry_key: &str,
        ) -> Result<LoadStart> {
            self.note();
            self.store
                .begin_load(lock, version_keys, new_versions, entry_key)
        }
    }

    fn bytes(text: &'static str) -> Value {
        Value::Bytes(Bytes::from_static(text.as_bytes()))
    }

    #[test]
    fn a_task_calls_an_in_process_backend_in_place_and_a_blocking_one_off_its_thread() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let task_thread = std::thread::current().id();
        for local in [true, false] {
            let recorder = Arc::new(Recorder {
                store: MemoryBackend::new(100),
                local,
                threads: Mutex::new(Vec::new()),
            });
            let faces = Faces::new(Arc::clone(&recorder) as Arc<dyn Backend>);
            assert_eq!(faces.in_process, local);
            runtime.block_on(async {
                let tasks = &faces.tasks;
                tasks.set("a", bytes("1"), None).await.unwrap();
                let write = ReplaceIf::new("b", None, bytes("2"), None, None);
                let stored = tasks.replace_if_many(vec![write]).await;
                assert!(matches!(stored[..], [Ok(true)]), "local {local}");
                let read = tasks.get_many(&["a", "b", "c"]).await.unwrap();
                let read: Vec<Option<&[u8]>> = read
                    .iter()
                    .map(|value| value.as_ref().and_then(Value::as_bytes))
                    .collect();
                assert_eq!(read, [Some(&b"1"[..]), Some(&b"2"[..]), None]);
                tasks.delete_many(&["a"]).await.unwrap();
                assert!(tasks.get_many(&["a"]).await.unwrap()[0].is_none());
            });
            let threads = recorder.threads.lock();
            assert_eq!(threads.len(), 5, "local {local}");
            for thread in threads.iter() {
                assert_eq!(*thread == task_thread, local, "local {local}: {threads:?}");
            }
        }
    }
}
