//! Locks this thread took in `begin_load` and has not released yet, so that
//! the store of the entry can release its lock in the same round trip.
//!
//! A [`Cache`](crate::Cache) miss is `begin_load` (lock taken), the body,
//! `replace_if` of the entry, then `unlock`, all on one thread. On one server,
//! `replace_if` finds the entry's lock here and releases it in the same script
//! call; the `unlock` that follows then finds it released and sends nothing.
//! Any other order stays correct: an `unlock` of a lock not yet released here
//! is sent as usual, and releasing is a compare-and-delete by token, so doing
//! it early never frees another caller's lock.

use std::cell::RefCell;

/// One lock held by this thread.
struct Held {
    /// The backend it was taken through (its address).
    backend: usize,
    entry: Box<str>,
    lock: Box<str>,
    token: u64,
    released: bool,
}

/// More than this many at once means they are not being released: the oldest go.
const MAX_HELD: usize = 64;

thread_local! {
    static HELD: RefCell<Vec<Held>> = const { RefCell::new(Vec::new()) };
}

/// Notes that `backend` took `lock` (with `token`) for `entry`.
pub(crate) fn taken(backend: usize, entry: &str, lock: &str, token: u64) {
    HELD.with(|held| {
        let mut held = held.borrow_mut();
        if held.len() >= MAX_HELD {
            held.remove(0);
        }
        held.push(Held {
            backend,
            entry: entry.into(),
            lock: lock.into(),
            token,
            released: false,
        });
    });
}

/// The unreleased lock (key, token) this thread holds for `entry`, if any.
pub(crate) fn lock_of(backend: usize, entry: &str) -> Option<(String, u64)> {
    HELD.with(|held| {
        held.borrow()
            .iter()
            .rev()
            .find(|held| held.backend == backend && &*held.entry == entry && !held.released)
            .map(|held| (held.lock.to_string(), held.token))
    })
}

/// Notes that `lock` was released along with a store.
pub(crate) fn released(backend: usize, lock: &str, token: u64) {
    HELD.with(|held| {
        for held in held.borrow_mut().iter_mut() {
            if held.backend == backend && &*held.lock == lock && held.token == token {
                held.released = true;
            }
        }
    });
}

/// Forgets `lock`; true if it was already released (nothing left to send).
pub(crate) fn forget(backend: usize, lock: &str, token: u64) -> bool {
    HELD.with(|held| {
        let mut held = held.borrow_mut();
        let at = held
            .iter()
            .position(|held| held.backend == backend && &*held.lock == lock && held.token == token);
        at.is_some_and(|at| held.remove(at).released)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_released_with_the_store_is_not_sent_again() {
        taken(1, "e", "l", 7);
        assert_eq!(lock_of(1, "e"), Some(("l".to_string(), 7)));
        assert_eq!(lock_of(2, "e"), None);
        released(1, "l", 7);
        assert_eq!(lock_of(1, "e"), None);
        assert!(forget(1, "l", 7));
        assert!(!forget(1, "l", 7));
    }

    #[test]
    fn an_unreleased_lock_is_sent() {
        taken(1, "e2", "l2", 8);
        assert!(!forget(1, "l2", 8));
        assert_eq!(lock_of(1, "e2"), None);
    }
}
