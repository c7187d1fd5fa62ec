//! What a lookup found, and what became of a store.

use std::time::Duration;

use smallvec::SmallVec;

use crate::backend::Value;
use crate::handover::{Versions, View};

/// Keys and versions of one call: a function has few tags, so these stay on
/// the stack (no allocation on the hit path).
pub(crate) type Keys<'a> = SmallVec<[&'a str; 6]>;
/// The values read for [`Keys`].
pub(crate) type Values = SmallVec<[Option<Value>; 6]>;

/// What a lookup found.
pub(crate) enum Found<T> {
    Hit(T),
    Miss(Miss),
    /// The backend failed, or the arguments make no key: compute without storing.
    Uncacheable,
}

/// A miss, with what is needed to store the value computed next.
pub(crate) struct Miss {
    /// The versions of the epoch and each tag, if all exist.
    pub(crate) versions: Option<Versions>,
    /// The entry as read: the store happens only if it is still that.
    pub(crate) seen: Option<Value>,
    /// What this caller's lookup read (the versions even where known without
    /// a lookup): a leader's value is handed to it only if the leader's
    /// computation started from the same (see `handover.rs`).
    pub(crate) view: Option<View>,
}

/// What became of a computed value's store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreOutcome {
    Stored,
    /// The backend refused it: the entry changed since it was read (an
    /// invalidation, or another caller's store, here or in another process).
    Refused,
    /// Not sent: an invalidation made through this cache overtook the computation.
    Overtaken,
    /// Not sent, or the backend failed: a zero TTL, an encoding error, an
    /// oversized value, no versions.
    NotStored,
}

impl Miss {
    /// A miss with nothing read (a local store needs nothing of its lookup).
    pub(crate) fn unread() -> Miss {
        Miss {
            versions: None,
            seen: None,
            view: None,
        }
    }
}

impl StoreOutcome {
    /// Whether the lock handed to the store was released with it.
    pub(crate) fn released_lock(self) -> bool {
        matches!(self, StoreOutcome::Stored | StoreOutcome::Refused)
    }

    /// Whether the value may go to the callers waiting for it: not when the
    /// entry is known to have changed under the computation.
    pub(crate) fn may_hand_over(self) -> bool {
        !matches!(self, StoreOutcome::Refused | StoreOutcome::Overtaken)
    }
}

/// Longest pause between two attempts to take another process's lock.
pub(crate) const MAX_POLL_PAUSE: Duration = Duration::from_millis(50);
pub(crate) const FIRST_POLL_PAUSE: Duration = Duration::from_millis(2);
/// How long a tombstone outlives an invalidation (at most; less with a shorter
/// entry TTL): it only has to outlast the computations in flight at that time.
pub(crate) const TOMBSTONE_TTL: Duration = Duration::from_secs(3600);
