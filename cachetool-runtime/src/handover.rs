//! What a leader hands to the callers waiting for its computation, and when a
//! waiter may take it.
//!
//! A waiter joined the flight after its own lookup missed. Whatever it read
//! then (the entry, the versions of the epoch and of each tag) reflects every
//! invalidation and clean that returned before the waiter started, in this
//! process or in any other. The leader read the same keys when its
//! computation started. If the two reads agree, nothing changed between them,
//! so the leader's value is as fresh as one the waiter would compute; if they
//! differ (a tombstone, another process's store, a cleaned tag, a new epoch),
//! the waiter looks again instead of taking a value that may predate a change
//! it must see.
//!
//! The invalidation counts of `invalidations.rs` only know this process's
//! invalidations; this check is what covers other processes'.

use smallvec::SmallVec;

use crate::backend::Value;

/// Versions of the epoch and each tag, in order (see `call/lookup.rs`).
pub(crate) type Versions = SmallVec<[u64; 5]>;

/// The state of an entry's keys as one caller read them.
#[derive(Clone, Default)]
pub(crate) struct View {
    /// The entry (`None`: absent or expired).
    pub(crate) entry: Option<Value>,
    /// The versions, or `None` if any of them was missing.
    pub(crate) versions: Option<Versions>,
}

impl View {
    /// Whether `self` and `other` read the same entry under the same versions.
    pub(crate) fn agrees_with(&self, other: &View) -> bool {
        let same_entry = match (&self.entry, &other.entry) {
            (None, None) => true,
            (Some(a), Some(b)) => a.is_same(b),
            _ => false,
        };
        same_entry && self.versions == other.versions
    }
}

/// A leader's value with the view its computation started from.
pub(crate) struct Handed<T> {
    pub(crate) value: T,
    /// `None` when the leader could not read the backend: it stored nothing,
    /// and its waiters (whose reads most likely failed too) take its value.
    pub(crate) view: Option<View>,
}

impl<T> Handed<T> {
    /// Whether a waiter that read `waiter_view` may take this value.
    pub(crate) fn fits(&self, waiter_view: Option<&View>) -> bool {
        #[cfg(cachetool_loom)]
        return loom_hooks::taken(self.started_from(waiter_view));
        #[cfg(not(cachetool_loom))]
        self.started_from(waiter_view)
    }

    /// Whether the leader's computation started from what the waiter read.
    fn started_from(&self, waiter_view: Option<&View>) -> bool {
        match (&self.view, waiter_view) {
            (Some(leader), Some(waiter)) => leader.agrees_with(waiter),
            // The leader could not read: fail open, as it did.
            (None, _) => true,
            // The waiter could not read but the leader could: look again.
            (Some(_), None) => false,
        }
    }
}

/// What the model check of the hand-over (`handover_loom.rs`) sees of
/// [`Handed::fits`] and can change in it, on the thread that runs the check
/// (loom runs all its threads on that one).
#[cfg(cachetool_loom)]
pub(crate) mod loom_hooks {
    use std::cell::Cell;

    std::thread_local! {
        static CHECK_OFF: Cell<bool> = const { Cell::new(false) };
        static TAKEN: Cell<u64> = const { Cell::new(0) };
    }

    /// Makes every waiter take the value it is handed, whatever it read: the
    /// bug the check exists for, which the model check must then find.
    #[cfg(test)]
    pub(crate) fn turn_check_off(off: bool) {
        CHECK_OFF.set(off);
    }

    /// How many values waiters have taken from a leader so far.
    #[cfg(test)]
    pub(crate) fn taken_so_far() -> u64 {
        TAKEN.get()
    }

    pub(super) fn taken(fits: bool) -> bool {
        let taken = fits || CHECK_OFF.get();
        TAKEN.set(TAKEN.get() + u64::from(taken));
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smallvec::smallvec;

    fn bytes(text: &str) -> Option<Value> {
        Some(Value::from(text.as_bytes().to_vec()))
    }

    fn view(entry: Option<Value>, versions: Option<Versions>) -> View {
        View { entry, versions }
    }

    #[test]
    fn a_waiter_takes_a_value_computed_from_what_it_read() {
        let read = view(bytes("old"), Some(smallvec![1, 2]));
        let handed = Handed {
            value: 7,
            view: Some(read.clone()),
        };
        assert!(handed.fits(Some(&read)));
        assert!(handed.fits(Some(&view(bytes("old"), Some(smallvec![1, 2])))));
    }

    #[test]
    fn a_waiter_that_read_a_change_looks_again() {
        let handed = Handed {
            value: 7,
            view: Some(view(None, Some(smallvec![1, 2]))),
        };
        let tombstone = view(bytes("tombstone"), Some(smallvec![1, 2]));
        let cleaned = view(None, Some(smallvec![1, 3]));
        let tag_deleted = view(None, None);
        assert!(!handed.fits(Some(&tombstone)), "an invalidation");
        assert!(!handed.fits(Some(&cleaned)), "a clean");
        assert!(!handed.fits(Some(&tag_deleted)), "a tag key deleted");
        assert!(!handed.fits(None), "a waiter that could not read");
    }

    #[test]
    fn a_leader_that_could_not_read_fails_open() {
        let handed = Handed {
            value: 7,
            view: None,
        };
        assert!(handed.fits(None));
        assert!(handed.fits(Some(&view(bytes("x"), None))));
    }
}
