//! The synchronization primitives of the single-flight (`flight.rs`) and the
//! invalidation counts (`invalidations.rs`).
//!
//! In every ordinary build these are parking_lot's locks, std's atomics and
//! thread-locals and event-listener's events, re-exported as they are: the
//! same types, the same code. In the model check of the hand-over
//! (`RUSTFLAGS="--cfg cachetool_loom"`, see `handover_loom.rs`) they are loom's, so
//! that loom can run the real single-flight under every interleaving it
//! explores. Only what those two files use is here, with the API they use.

// The model's waiters block threads: it models sync callers, not tasks.
#[cfg(all(cachetool_loom, feature = "tokio"))]
compile_error!(
    "the loom model check (cfg cachetool_loom) builds without the tokio feature: \
     cargo test -p cachetool-runtime --release --lib loom"
);

#[cfg(not(cachetool_loom))]
pub(crate) use event_listener::{Event, EventListener, Listener};
#[cfg(not(cachetool_loom))]
pub(crate) use parking_lot::{Mutex, RwLock};
#[cfg(not(cachetool_loom))]
pub(crate) use std::sync::atomic::AtomicU64;
#[cfg(not(cachetool_loom))]
pub(crate) use std::thread_local;

/// loom's thread-locals (one per loom thread; std's would be one for all, as
/// loom runs its threads on one): loom's macro takes no `const { ... }`.
#[cfg(cachetool_loom)]
macro_rules! loom_thread_local {
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr };) => {
        loom::thread_local!($(#[$attr])* $vis static $name: $t = $init);
    };
}

#[cfg(cachetool_loom)]
pub(crate) use loom::sync::atomic::AtomicU64;
#[cfg(cachetool_loom)]
pub(crate) use loom_thread_local as thread_local;
#[cfg(all(cachetool_loom, test))]
pub(crate) use model::on_join;
#[cfg(cachetool_loom)]
pub(crate) use model::{joined, Event, EventListener, Listener, Mutex, RwLock};

/// loom's counterparts, with parking_lot's and event-listener's API.
#[cfg(cachetool_loom)]
mod model {
    use std::cell::RefCell;
    use std::sync::Arc;
    use std::time::Instant;

    use loom::sync::Condvar;

    loom::thread_local! {
        /// What the model check runs when this model thread joins a flight as a waiter.
        static ON_JOIN: RefCell<Option<Box<dyn Fn()>>> = RefCell::new(None);
    }

    /// Has `hook` run each time this model thread joins a flight as a waiter
    /// (`None`: nothing), at the moment it joins: under the flight's locks,
    /// so that the leader cannot finish in between (`handover_loom.rs`
    /// notes which invalidations had returned by then).
    #[cfg(test)]
    pub(crate) fn on_join(hook: Option<Box<dyn Fn()>>) {
        ON_JOIN.with(|on_join| *on_join.borrow_mut() = hook);
    }

    /// Called by `flight.rs` as a caller joins a flight as a waiter.
    pub(crate) fn joined() {
        ON_JOIN.with(|on_join| {
            if let Some(hook) = &*on_join.borrow() {
                hook();
            }
        });
    }

    /// A mutex whose `lock` cannot fail, as parking_lot's.
    #[derive(Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            // A thread that panics holding it fails the model anyway.
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }

    /// A readers-writer lock whose `read` and `write` cannot fail, as parking_lot's.
    #[derive(Default)]
    pub(crate) struct RwLock<T>(loom::sync::RwLock<T>);

    impl<T> RwLock<T> {
        pub(crate) fn read(&self) -> loom::sync::RwLockReadGuard<'_, T> {
            self.0
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        pub(crate) fn write(&self) -> loom::sync::RwLockWriteGuard<'_, T> {
            self.0
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }

    /// event-listener's `Event`: a count of notifications, which a listener
    /// blocks until it sees move (a loom condition variable: loom explores a
    /// blocked thread as waiting, where a spin would add a branch per turn).
    pub(crate) struct Event {
        notifications: Arc<(loom::sync::Mutex<usize>, Condvar)>,
    }

    impl Event {
        pub(crate) fn new() -> Event {
            Event {
                notifications: Arc::new((loom::sync::Mutex::new(0), Condvar::new())),
            }
        }

        /// Wakes every listener (the only use: `usize::MAX`).
        pub(crate) fn notify(&self, _listeners: usize) {
            let (count, changed) = &*self.notifications;
            *count.lock().unwrap() += 1;
            changed.notify_all();
        }

        /// A listener that any later notification wakes.
        pub(crate) fn listen(&self) -> EventListener {
            let seen = *self.notifications.0.lock().unwrap();
            EventListener {
                notifications: Arc::clone(&self.notifications),
                seen,
            }
        }
    }

    pub(crate) struct EventListener {
        notifications: Arc<(loom::sync::Mutex<usize>, Condvar)>,
        seen: usize,
    }

    /// event-listener's `Listener`, for the one method `flight.rs` calls.
    pub(crate) trait Listener {
        /// Waits for a notification. Time is not modelled: the deadline never
        /// passes, so a waiter never times out (a waiter that does computes
        /// its own value, which is no hand-over to check).
        fn wait_deadline(self, deadline: Instant) -> Option<()>;
    }

    impl Listener for EventListener {
        fn wait_deadline(self, _deadline: Instant) -> Option<()> {
            let (count, changed) = &*self.notifications;
            let mut count = count.lock().unwrap();
            while *count == self.seen {
                count = changed.wait(count).unwrap();
            }
            Some(())
        }
    }
}
