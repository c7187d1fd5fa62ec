//! What the change channel's events do to a near tier (see `mod.rs` for why
//! this order of steps keeps it coherent).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Shared;
use crate::backend::Backend;
use crate::changes::{self, Change, Event, Subscription};
use crate::{Error, ErrorKind, Result};

/// Subscribes the tier `shared` to `prefix`'s changes heard by `backend`;
/// `None` if the backend has no channel.
pub(super) fn subscribe(
    backend: &dyn Backend,
    prefix: &str,
    shared: &Arc<Shared>,
) -> Result<Option<Subscription>> {
    let tier = Arc::clone(shared);
    let mut deaf = false;
    let handler = Box::new(move |event: Event<'_>| {
        if deaf {
            return;
        }
        // A handler that panicked would end the subscriber's thread, and
        // the tier would go on trusting a channel nobody reads: it stops
        // being used instead, for good.
        if catch_unwind(AssertUnwindSafe(|| tier.apply(&event))).is_err() {
            tier.listening.store(false, Ordering::Release);
            tier.forget_everything();
            deaf = true;
            tracing::error!("cachetool: the local tier stopped after a failure; calls go remote");
        }
    });
    match changes::subscribe(backend, prefix, handler) {
        None => Ok(None),
        Some(Ok(subscription)) => Ok(Some(subscription)),
        Some(Err(error)) => Err(Error::new(
            ErrorKind::Backend,
            format!("the local tier's subscriber could not start: {error}"),
        )),
    }
}

impl Shared {
    pub(super) fn apply(&self, event: &Event<'_>) {
        match event {
            Event::Lost => {
                // Not read from now on, then emptied.
                self.listening.store(false, Ordering::Release);
                self.forget_everything();
            }
            Event::Listening => {
                // Whatever was kept or is being filled from before may have
                // missed a change: emptied while still unused.
                self.forget_everything();
                self.listening.store(true, Ordering::Release);
            }
            Event::Changed(message) => {
                for change in &message.changes {
                    self.apply_change(change);
                }
            }
            // A message we can't read may have announced any change.
            Event::Unreadable => self.forget_everything(),
        }
    }

    fn apply_change(&self, change: &Change) {
        match change {
            Change::Entry(calls) => {
                for &call in calls {
                    self.drop_entry(call);
                }
            }
            Change::Tag { tag, .. } => self.clean_tags(&[*tag]),
            // An entry of a generic function can't be named: every entry goes.
            Change::UnnamedEntry | Change::Epoch { .. } => self.new_epoch(),
        }
    }

    /// Makes every entry a miss and every fill in progress not land, then
    /// drops the entries.
    fn forget_everything(&self) {
        self.new_epoch();
        self.store.tier().clear();
    }
}
