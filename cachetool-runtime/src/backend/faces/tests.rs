//! Each async face runs a task's backend calls where it says: in place, on
//! the blocking pool, or on the native client while the backend offers one.

use std::future::ready;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::ThreadId;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;

use super::*;
use crate::backend::{
    BackendFuture, HeldLock, LoadStart, LockRequest, MemoryBackend, ReplaceIf, Value,
};
use crate::Result;

/// A backend that notes the thread of each blocking call, and counts the
/// calls to its async client. `local`: whether it says it is in this
/// process; `client`: whether it offers its async client now.
struct Recorder {
    store: MemoryBackend,
    local: bool,
    client: AtomicBool,
    threads: Mutex<Vec<ThreadId>>,
    async_calls: AtomicUsize,
}

impl Recorder {
    fn new(local: bool, client: bool) -> Arc<Recorder> {
        Arc::new(Recorder {
            store: MemoryBackend::new(100),
            local,
            client: AtomicBool::new(client),
            threads: Mutex::new(Vec::new()),
            async_calls: AtomicUsize::new(0),
        })
    }

    fn note(&self) {
        self.threads.lock().push(std::thread::current().id());
    }

    fn note_async(&self) {
        self.async_calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl Backend for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn is_local(&self) -> bool {
        self.local
    }
    fn as_async(&self) -> Option<&dyn AsyncBackend> {
        match self.client.load(Ordering::SeqCst) {
            true => Some(self),
            false => None,
        }
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
        (self.store).begin_load(lock, version_keys, new_versions, entry_key)
    }
}

/// The client: the same store, counted, never noting a thread.
impl AsyncBackend for Recorder {
    fn get_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, Vec<Option<Value>>> {
        self.note_async();
        Box::pin(ready(self.store.get_many(keys)))
    }
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> BackendFuture<'a, ()> {
        self.note_async();
        Box::pin(ready(self.store.set(key, value, ttl)))
    }
    fn replace_if<'a>(
        &'a self,
        key: &'a str,
        seen: Option<&'a Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<HeldLock<'a>>,
    ) -> BackendFuture<'a, bool> {
        self.note_async();
        Box::pin(ready(self.store.replace_if(key, seen, value, ttl, release)))
    }
    fn delete_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, ()> {
        self.note_async();
        Box::pin(ready(self.store.delete_many(keys)))
    }
    fn unlock<'a>(&'a self, key: &'a str, token: u64) -> BackendFuture<'a, ()> {
        self.note_async();
        Box::pin(ready(self.store.unlock(key, token)))
    }
    fn begin_load<'a>(
        &'a self,
        lock: Option<LockRequest<'a>>,
        version_keys: &'a [&'a str],
        new_versions: &'a [Value],
        entry_key: &'a str,
    ) -> BackendFuture<'a, LoadStart> {
        self.note_async();
        let started = (self.store).begin_load(lock, version_keys, new_versions, entry_key);
        Box::pin(ready(started))
    }
}

fn bytes(text: &'static str) -> Value {
    Value::Bytes(Bytes::from_static(text.as_bytes()))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every method of the face, once each (`replace_if_many` counts as one
/// call of the backend's own): 7 calls, each checked.
async fn every_method(tasks: &dyn AsyncBackend) {
    tasks.set("a", bytes("1"), None).await.unwrap();
    let write = ReplaceIf::new("b", None, bytes("2"), None, None);
    let stored = tasks.replace_if_many(vec![write]).await;
    assert!(matches!(stored[..], [Ok(true)]));
    let seen = bytes("1");
    let replaced = tasks.replace_if("a", Some(&seen), bytes("3"), None, None);
    assert!(replaced.await.unwrap());
    let read = tasks.get_many(&["a", "b", "c"]).await.unwrap();
    let read: Vec<Option<&[u8]>> = read
        .iter()
        .map(|value| value.as_ref().and_then(Value::as_bytes))
        .collect();
    assert_eq!(read, [Some(&b"3"[..]), Some(&b"2"[..]), None]);
    let lock = LockRequest::new("lock", 7, Duration::from_secs(60));
    let started = tasks.begin_load(Some(lock), &[], &[], "b").await.unwrap();
    assert!(started.locked);
    let entry = started.entry.as_ref().and_then(Value::as_bytes);
    assert_eq!(entry, Some(&b"2"[..]));
    tasks.unlock("lock", 7).await.unwrap();
    // Empty again, for another round.
    tasks.delete_many(&["a", "b"]).await.unwrap();
}

#[test]
fn a_task_calls_an_in_process_backend_in_place_and_a_blocking_one_off_its_thread() {
    let runtime = runtime();
    let task_thread = std::thread::current().id();
    for local in [true, false] {
        let recorder = Recorder::new(local, false);
        let faces = Faces::new(Arc::clone(&recorder) as Arc<dyn Backend>);
        assert_eq!(faces.in_process, local);
        runtime.block_on(every_method(&*faces.tasks));
        let threads = recorder.threads.lock();
        assert_eq!(threads.len(), 7, "local {local}");
        for thread in threads.iter() {
            assert_eq!(*thread == task_thread, local, "local {local}: {threads:?}");
        }
        assert_eq!(recorder.async_calls.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn a_native_client_is_awaited_while_offered_then_the_blocking_pool_takes_over() {
    let runtime = runtime();
    let task_thread = std::thread::current().id();
    let recorder = Recorder::new(false, true);
    let faces = Faces::new(Arc::clone(&recorder) as Arc<dyn Backend>);
    assert!(!faces.in_process);
    runtime.block_on(every_method(&*faces.tasks));
    assert_eq!(recorder.async_calls.load(Ordering::SeqCst), 7);
    assert!(recorder.threads.lock().is_empty(), "no blocking call");

    recorder.client.store(false, Ordering::SeqCst);
    runtime.block_on(every_method(&*faces.tasks));
    assert_eq!(recorder.async_calls.load(Ordering::SeqCst), 7);
    let threads = recorder.threads.lock();
    assert_eq!(threads.len(), 7);
    assert!(threads.iter().all(|thread| *thread != task_thread));
}
