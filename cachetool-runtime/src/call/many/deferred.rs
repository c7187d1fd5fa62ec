//! The misses of a `_many` with a remote backend, their stores held back
//! and written together.
//!
//! Each miss runs a single call's miss path (`miss.rs`, `lead.rs`,
//! `store.rs`) unchanged, through a [`Deferring`] driver: every operation is
//! the wrapped driver's, except `replace_if`, the store, which is queued
//! instead of sent, and whose answer the miss awaits. The miss's future then
//! stops there, holding what a single call holds at that point (its lock,
//! its flight, the view its computation started from), and is kept
//! ([`Deferred::park`]) while the next items run. [`Deferred::flush`] sends
//! the queued stores with one [`Backend::replace_if_many`] per backend (one
//! pipelined round trip per server), hands each miss its answer and lets it
//! run to its end: the lock released with its store or after it, the value
//! handed to the callers waiting for it if it is still current, as a single
//! call does right after its store.
//!
//! A miss's body is the caller's (it borrows the `_many`'s arguments for one
//! item), so it can't go into a future that outlives the item: the miss path
//! gets a [`CallerBody`], which asks for the value ([`BodySlot::wanted`]) and
//! waits; the caller runs its body and gives the outcome.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::backend::{Faces, HeldLock, LoadStart, LockRequest, ReplaceIf, Value};
use crate::driver::{Blocking, Driver};
use crate::flight::{Marker, Waited, Waiter};
use crate::{Error, ErrorKind, Result};

/// A miss's computation stopped at its store, until the flush.
type Parked<'c> = Pin<Box<dyn Future<Output = ()> + Send + 'c>>;

/// The stores held back by the misses of one `_many`, and those misses.
pub(super) struct Deferred<'c> {
    queue: Arc<WriteQueue>,
    parked: Vec<Parked<'c>>,
    /// The flights the parked misses still lead (a task's markers, see
    /// `flight.rs`): a later item's body runs as their computation too, so
    /// that its call of an earlier item's key is re-entrant, not a wait.
    held_leading: Vec<Marker>,
}

/// The stores queued so far.
#[derive(Default)]
pub(super) struct WriteQueue {
    writes: Mutex<Vec<QueuedWrite>>,
}

impl WriteQueue {
    /// How many stores are queued: a miss whose poll made it grow stopped at its store.
    pub(super) fn len(&self) -> usize {
        self.writes.lock().len()
    }
}

/// One `replace_if`, with what it needs owned (a tokio blocking task may send it).
pub(super) struct QueuedWrite {
    backend: Faces,
    key: String,
    seen: Option<Value>,
    value: Value,
    ttl: Option<Duration>,
    release: Option<(String, u64)>,
    answer: Arc<Answer>,
}

/// The answer to a queued store, once the flush has it.
#[derive(Default)]
struct Answer(Mutex<Option<Result<bool>>>);

impl<'c> Deferred<'c> {
    pub(super) fn new() -> Deferred<'c> {
        Deferred {
            queue: Arc::default(),
            parked: Vec::new(),
            held_leading: Vec::new(),
        }
    }

    /// A driver that queues the stores of the misses it runs here.
    pub(super) fn driver<D: Driver>(&self, inner: D) -> Deferring<D> {
        Deferring {
            inner,
            queue: Arc::clone(&self.queue),
        }
    }

    /// The stores queued so far.
    pub(super) fn queue(&self) -> &WriteQueue {
        &self.queue
    }

    /// Whether a store of `key` is queued (a miss of the same key waits for
    /// it to be written, rather than for its flight).
    pub(super) fn holds(&self, key: &str) -> bool {
        self.queue
            .writes
            .lock()
            .iter()
            .any(|write| write.key == key)
    }

    /// Keeps a miss that stopped at its store until the flush. Dropped
    /// unflushed (a panic, a cancelled task), it releases its lock and
    /// abandons its flight, as a single call dropped there would.
    /// `leading`: the flights it leads, as its body saw them (empty on a thread).
    pub(super) fn park(&mut self, miss: Parked<'c>, leading: Vec<Marker>) {
        self.parked.push(miss);
        self.held_leading.extend(leading);
    }

    /// The flights the parked misses lead.
    #[cfg(feature = "tokio")]
    pub(super) fn held_leading(&self) -> &[Marker] {
        &self.held_leading
    }

    /// Sends the queued stores, one `replace_if_many` per backend, and runs
    /// each parked miss to its end.
    pub(super) async fn flush<D: WriteMany>(&mut self, driver: &D) {
        let mut writes = std::mem::take(&mut *self.queue.writes.lock());
        while let Some(first) = writes.first() {
            let backend = first.backend.clone();
            let (same, rest): (Vec<QueuedWrite>, Vec<QueuedWrite>) = writes
                .into_iter()
                .partition(|write| Arc::ptr_eq(&write.backend.blocking, &backend.blocking));
            writes = rest;
            let answers: Vec<Arc<Answer>> =
                same.iter().map(|write| Arc::clone(&write.answer)).collect();
            let count = same.len();
            let mut results = driver.replace_if_many(&backend, same).await;
            if results.len() != count {
                let error = Error::new(
                    ErrorKind::Backend,
                    format!(
                        "the {} backend answered {} of {count} writes",
                        backend.name(),
                        results.len()
                    ),
                );
                results = crate::backend::each_failed(error, count);
            }
            for (answer, result) in answers.iter().zip(results) {
                *answer.0.lock() = Some(result);
            }
        }
        for miss in self.parked.drain(..) {
            miss.await;
        }
        self.held_leading.clear();
    }
}

/// The driver of a `_many`'s misses: `D`'s operations, but a store is queued
/// and answered at the flush.
pub(super) struct Deferring<D> {
    inner: D,
    queue: Arc<WriteQueue>,
}

impl<D: Driver> Driver for Deferring<D> {
    const IS_THREAD: bool = D::IS_THREAD;

    fn get_many<'a>(
        &'a self,
        backend: &'a Faces,
        keys: &'a [&'a str],
    ) -> impl Future<Output = Result<Vec<Option<Value>>>> + Send + 'a {
        self.inner.get_many(backend, keys)
    }

    fn begin_load<'a>(
        &'a self,
        backend: &'a Faces,
        lock: Option<LockRequest<'a>>,
        version_keys: &'a [&'a str],
        new_versions: &'a [Value],
        entry_key: &'a str,
    ) -> impl Future<Output = Result<LoadStart>> + Send + 'a {
        self.inner
            .begin_load(backend, lock, version_keys, new_versions, entry_key)
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
        let answer = Arc::new(Answer::default());
        self.queue.writes.lock().push(QueuedWrite {
            backend: backend.clone(),
            key: key.to_owned(),
            seen: seen.cloned(),
            value,
            ttl,
            release: release.map(|lock| (lock.key.to_owned(), lock.token)),
            answer: Arc::clone(&answer),
        });
        AnswerOf(answer)
    }

    fn set<'a>(
        &'a self,
        backend: &'a Faces,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        self.inner.set(backend, key, value, ttl)
    }

    fn unlock<'a>(
        &'a self,
        backend: &'a Faces,
        key: &'a str,
        token: u64,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        self.inner.unlock(backend, key, token)
    }

    fn delete_many<'a>(
        &'a self,
        backend: &'a Faces,
        keys: &'a [&'a str],
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        self.inner.delete_many(backend, keys)
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        self.inner.sleep(duration)
    }

    fn wait(&self, waiter: Waiter, deadline: Instant) -> impl Future<Output = Waited> + Send {
        self.inner.wait(waiter, deadline)
    }
}

/// A queued store's answer: pending until the flush gives it. (Polled again
/// by the flush itself, so it needs no waker.)
struct AnswerOf(Arc<Answer>);

impl Future for AnswerOf {
    type Output = Result<bool>;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<bool>> {
        match self.0 .0.lock().take() {
            Some(result) => Poll::Ready(result),
            None => Poll::Pending,
        }
    }
}

/// The caller's side of a miss's body: whether the miss path asked for it,
/// and the outcome the caller gave.
pub(super) struct BodySlot<T> {
    state: Mutex<BodyState<T>>,
    /// The flights the miss path leads when it asks for the body (a task's
    /// markers): the caller runs the body as their computation.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    leading: Mutex<Vec<Marker>>,
}

enum BodyState<T> {
    NotAsked,
    Wanted,
    Given(Result<T, BodyFailed>),
    Taken,
}

/// The body returned an error, which the caller keeps (it is the caller's
/// to return, and it is never stored).
pub(super) struct BodyFailed;

impl<T> BodySlot<T> {
    pub(super) fn new() -> Arc<BodySlot<T>> {
        Arc::new(BodySlot {
            state: Mutex::new(BodyState::NotAsked),
            leading: Mutex::new(Vec::new()),
        })
    }

    /// Whether the miss path waits for the body's outcome.
    pub(super) fn wanted(&self) -> bool {
        matches!(*self.state.lock(), BodyState::Wanted)
    }

    /// Hands the body's outcome to the miss path.
    pub(super) fn give(&self, outcome: Result<T, BodyFailed>) {
        *self.state.lock() = BodyState::Given(outcome);
    }

    /// The flights the miss path led when it asked for the body.
    #[cfg(feature = "tokio")]
    pub(super) fn leading(&self) -> Vec<Marker> {
        self.leading.lock().clone()
    }
}

/// The body the miss path runs: it asks the caller for the outcome.
pub(super) struct CallerBody<T>(pub(super) Arc<BodySlot<T>>);

impl<T> Future for CallerBody<T> {
    type Output = Result<T, BodyFailed>;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.0.state.lock();
        match std::mem::replace(&mut *state, BodyState::Taken) {
            BodyState::Given(outcome) => Poll::Ready(outcome),
            BodyState::NotAsked | BodyState::Wanted => {
                *state = BodyState::Wanted;
                // Polled inside the leader's `leading` scope, if it leads.
                #[cfg(feature = "tokio")]
                {
                    *self.0.leading.lock() = crate::flight::task_leading();
                }
                Poll::Pending
            }
            BodyState::Taken => unreachable!("a miss runs its body once"),
        }
    }
}

/// How the flush sends its stores: at once on a thread, awaited in a task.
pub(super) trait WriteMany: Sync {
    fn replace_if_many<'a>(
        &'a self,
        backend: &'a Faces,
        writes: Vec<QueuedWrite>,
    ) -> impl Future<Output = Vec<Result<bool>>> + Send + 'a;
}

/// The [`ReplaceIf`] of each queued write.
fn borrowed(writes: &[QueuedWrite]) -> Vec<ReplaceIf<'_>> {
    writes
        .iter()
        .map(|write| {
            let release = (write.release.as_ref()).map(|(key, token)| HeldLock::new(key, *token));
            ReplaceIf::new(
                &write.key,
                write.seen.as_ref(),
                write.value.clone(),
                write.ttl,
                release,
            )
        })
        .collect()
}

impl WriteMany for Blocking {
    fn replace_if_many<'a>(
        &'a self,
        backend: &'a Faces,
        writes: Vec<QueuedWrite>,
    ) -> impl Future<Output = Vec<Result<bool>>> + Send + 'a {
        std::future::ready(backend.replace_if_many(borrowed(&writes)))
    }
}

#[cfg(feature = "tokio")]
impl WriteMany for crate::driver::Tokio {
    /// On the backend's async face, as the tokio driver calls it (see
    /// `backend/faces/`).
    async fn replace_if_many<'a>(
        &'a self,
        backend: &'a Faces,
        writes: Vec<QueuedWrite>,
    ) -> Vec<Result<bool>> {
        backend.tasks.replace_if_many(borrowed(&writes)).await
    }
}
