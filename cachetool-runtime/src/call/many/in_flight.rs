//! A `_many` miss under way: its future, stepped by the caller until it
//! ends, wants its body, or stops at its held-back store.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::deferred::{BodyFailed, BodySlot, WriteQueue};
use crate::__private::Cacheable;

/// A miss under way: its future, and where it asks for its body.
pub(super) struct MissInFlight<'c, T> {
    pub(super) future: Pin<Box<dyn Future<Output = Result<T, BodyFailed>> + Send + 'c>>,
    pub(super) slot: Arc<BodySlot<T>>,
}

/// Where a miss stopped.
pub(super) enum Step<T> {
    /// It ended: its value, or its body's error (which the caller has).
    Done(Result<T, BodyFailed>),
    /// It waits for its body's outcome.
    WantsBody,
    /// It queued its store and waits for the flush.
    Parked,
}

impl<'c, T: Cacheable> MissInFlight<'c, T> {
    /// Runs the miss until it ends, wants its body, or stops at its store;
    /// pending while it waits for anything else (a task's I/O, a timer).
    pub(super) fn step(&mut self, queue: &WriteQueue, cx: &mut Context<'_>) -> Poll<Step<T>> {
        let queued = queue.len();
        match self.future.as_mut().poll(cx) {
            Poll::Ready(output) => Poll::Ready(Step::Done(output)),
            Poll::Pending if self.slot.wanted() => Poll::Ready(Step::WantsBody),
            Poll::Pending if queue.len() > queued => Poll::Ready(Step::Parked),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Gives the body's outcome to the miss (its value cloned: the caller
    /// returns the one, the miss stores and hands over the other).
    pub(super) fn give<E>(&self, outcome: Result<T, E>) -> Result<T, E> {
        self.slot.give(match &outcome {
            Ok(value) => Ok(value.clone()),
            Err(_) => Err(BodyFailed),
        });
        outcome
    }

    /// The miss as the flush runs it to its end.
    pub(super) fn parked(self) -> Pin<Box<dyn Future<Output = ()> + Send + 'c>> {
        let future = self.future;
        Box::pin(async move {
            let _ = future.await;
        })
    }
}
