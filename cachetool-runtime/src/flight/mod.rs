//! In-process single-flight: concurrent misses of one key in this process run
//! the function once; the others wait for its value, blocking a thread or
//! awaiting in a task.
//!
//! No lock is held while user code runs. A leader that panics, gives up or is
//! cancelled (its future dropped) wakes its waiters, and one of them becomes
//! the next leader.

use std::any::Any;
use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crate::key::CallId;
use crate::local::FoldHasher;
// parking_lot's, std's and event-listener's; loom's in the model check.
use crate::sync::{Event, EventListener, Listener as _, Mutex};

/// A computed value, handed to waiters as it is.
pub(crate) type Shared = Arc<dyn Any + Send + Sync>;

/// (Fewer in the model check, which builds them anew for every interleaving.)
const SHARDS: usize = if cfg!(cachetool_loom) { 2 } else { 16 };

/// The computations under way in one cache (or, in memory, one namespace),
/// by call identity.
pub(crate) struct Flights {
    shards: [Mutex<Shard>; SHARDS],
    /// How many callers have joined another's flight to wait for it: an event
    /// that tests wait for, instead of sleeping while a caller gets there.
    /// (std's even in the model check: no part of the decision.)
    joins: std::sync::atomic::AtomicU64,
}

/// One shard of the computations under way.
#[derive(Default)]
struct Shard {
    running: FlightMap,
    /// The number of the next leader of the shard: a leader ends only its
    /// own flight, never a later one of the same key.
    next_leader: u64,
}

// A call identity is a hash already: folded, not hashed again.
type FlightMap = HashMap<CallId, Running, BuildHasherDefault<FoldHasher>>;

/// A computation under way: its leader, and what its waiters wait on, made
/// by the first of them. Most misses have no waiter, and so allocate nothing.
struct Running {
    leader: u64,
    flight: Option<Arc<Flight>>,
}

/// What the waiters of one computation wait on.
struct Flight {
    state: Mutex<State>,
    finished: Event,
}

enum State {
    Running,
    Done(Shared),
    Abandoned,
}

/// How a caller joined the flight of its key.
pub(crate) enum Joined<'a> {
    /// No one computes this key: the caller does, and must finish the guard.
    Leader(LeaderGuard<'a>),
    /// Someone else does: wait for it.
    Waiter(Waiter),
    /// This very thread is already computing this key (the function called
    /// itself with the same arguments): waiting would wait for ourselves.
    Reentrant,
}

/// What a waiter got.
pub(crate) enum Waited {
    Value(Shared),
    /// The leader panicked or its function failed: look again, and perhaps lead.
    Abandoned,
    /// The deadline passed first.
    TimedOut,
}

crate::sync::thread_local! {
    /// The flights this thread leads, as (flights address, key hash).
    static LEADING: RefCell<Vec<(usize, u64)>> = const { RefCell::new(Vec::new()) };
}

#[cfg(feature = "tokio")]
tokio::task_local! {
    /// The flights the current task is computing, as (flights address, key
    /// hash): set around each leader's body (see [`LeaderGuard::leading`]),
    /// since a task can move between threads.
    static TASK_LEADING: Vec<(usize, u64)>;
}

/// What marks a leader's computation: (flights address, key hash).
pub(crate) type Marker = (usize, u64);

/// The flights the current task is computing (inside a leader's
/// [`LeaderGuard::leading`]): what a body run outside that future, as a
/// `_many`'s, must run under to be told its recursive calls are re-entrant.
#[cfg(feature = "tokio")]
pub(crate) fn task_leading() -> Vec<Marker> {
    TASK_LEADING.try_with(Vec::clone).unwrap_or_default()
}

/// Runs `body` as the computation of the flights `leading` (see [`task_leading`]).
#[cfg(feature = "tokio")]
pub(crate) fn leading_these<F: std::future::Future>(
    leading: Vec<Marker>,
    body: F,
) -> impl std::future::Future<Output = F::Output> {
    TASK_LEADING.scope(leading, body)
}

/// Whether the current task is computing the flight `marker`.
fn task_leads(marker: (usize, u64)) -> bool {
    #[cfg(feature = "tokio")]
    {
        TASK_LEADING
            .try_with(|leading| leading.contains(&marker))
            .unwrap_or(false)
    }
    #[cfg(not(feature = "tokio"))]
    {
        let _ = marker;
        false
    }
}

impl Flights {
    pub(crate) fn new() -> Flights {
        Flights {
            shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
            joins: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many callers have waited for another's computation so far.
    pub(crate) fn joins(&self) -> u64 {
        self.joins.load(Ordering::Acquire)
    }

    /// Joins the flight of `key`. A caller whose thread (`per_thread`, sync
    /// callers) or task (async callers) already computes the key is told so.
    pub(crate) fn join(&self, key: CallId, per_thread: bool) -> Joined<'_> {
        let hash = key.spread();
        let marker = (self as *const Flights as usize, hash);
        let reentrant = match per_thread {
            true => LEADING.with(|leading| leading.borrow().contains(&marker)),
            false => task_leads(marker),
        };
        if reentrant {
            return Joined::Reentrant;
        }
        let mut guard = self.shards[hash as usize % SHARDS].lock();
        let shard = &mut *guard;
        // One lookup: a waiter joins the entry found, a leader fills the slot.
        let vacant = match shard.running.entry(key) {
            Entry::Vacant(vacant) => vacant,
            Entry::Occupied(mut running) => {
                let flight = running.get_mut().flight.get_or_insert_with(|| {
                    Arc::new(Flight {
                        state: Mutex::new(State::Running),
                        finished: Event::new(),
                    })
                });
                let waiter = Waiter(Arc::clone(flight));
                self.joins.fetch_add(1, Ordering::AcqRel);
                // The model check notes the moment of the join (`handover_loom.rs`).
                #[cfg(cachetool_loom)]
                crate::sync::joined();
                return Joined::Waiter(waiter);
            }
        };
        let leader = shard.next_leader;
        shard.next_leader += 1;
        vacant.insert(Running {
            leader,
            flight: None,
        });
        drop(guard);
        if per_thread {
            LEADING.with(|leading| leading.borrow_mut().push(marker));
        }
        Joined::Leader(LeaderGuard {
            flights: self,
            key,
            marker,
            per_thread,
            leader,
            ended: false,
        })
    }
}

/// Held by the one caller computing a key. Dropping it without
/// [`finish`](LeaderGuard::finish) (a panic, a failed function) abandons the
/// flight: its waiters wake and one of them computes.
pub(crate) struct LeaderGuard<'a> {
    flights: &'a Flights,
    key: CallId,
    /// (flights address, key hash): this leader's entry in `LEADING` (a
    /// per-thread leader) or `TASK_LEADING` (a task, while its body runs).
    marker: (usize, u64),
    per_thread: bool,
    /// Its number in its shard (see [`Shard::next_leader`]).
    leader: u64,
    /// Whether [`finish`](LeaderGuard::finish) ended the flight already.
    ended: bool,
}

impl LeaderGuard<'_> {
    /// Runs `body` as this leader's computation: a call of the same key from
    /// within it (the same task) is then told it is re-entrant instead of
    /// waiting for itself.
    #[cfg(feature = "tokio")]
    pub(crate) fn leading<F: std::future::Future>(
        &self,
        body: F,
    ) -> impl std::future::Future<Output = F::Output> {
        let mut leading = TASK_LEADING.try_with(Vec::clone).unwrap_or_default();
        leading.push(self.marker);
        TASK_LEADING.scope(leading, body)
    }

    /// Without tokio only threads call: `LEADING` tells re-entrant calls apart.
    #[cfg(not(feature = "tokio"))]
    pub(crate) fn leading<F: std::future::Future>(&self, body: F) -> F {
        body
    }

    /// Ends the flight, handing the value `share` makes to the waiters; `share`
    /// runs only if someone waits, once no one can join any more (so a check
    /// it makes holds for every waiter); `None` from it abandons the flight.
    pub(crate) fn finish(mut self, share: impl FnOnce() -> Option<Shared>) {
        self.end(Some(share));
        self.ended = true;
    }

    fn end(&self, share: Option<impl FnOnce() -> Option<Shared>>) {
        // The marker holds the key's hash, taken when the flight was joined.
        let shard = &self.flights.shards[self.marker.1 as usize % SHARDS];
        let running = {
            let mut shard = shard.lock();
            // One lookup: the entry, removed if this leader's.
            match shard.running.entry(self.key) {
                Entry::Occupied(running) if running.get().leader == self.leader => {
                    Some(running.remove())
                }
                _ => None,
            }
        };
        // Out of the map, the flight gains no waiter: if none joined, no one
        // is told anything (and `share` does not run).
        let Some(flight) = running.and_then(|running| running.flight) else {
            return;
        };
        let mut state = flight.state.lock();
        if let State::Running = *state {
            *state = match share.and_then(|share| share()) {
                Some(value) => State::Done(value),
                None => State::Abandoned,
            };
            flight.finished.notify(usize::MAX);
        }
    }
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.end(None::<fn() -> Option<Shared>>);
        }
        if self.per_thread {
            let marker = self.marker;
            LEADING.with(|leading| {
                let mut leading = leading.borrow_mut();
                if let Some(at) = leading.iter().rposition(|led| *led == marker) {
                    leading.remove(at);
                }
            });
        }
    }
}

/// A caller waiting for another's computation.
pub(crate) struct Waiter(Arc<Flight>);

impl Waiter {
    /// How the flight ended, if it has.
    fn outcome(&self) -> Option<Waited> {
        match &*self.0.state.lock() {
            State::Done(value) => Some(Waited::Value(Arc::clone(value))),
            State::Abandoned => Some(Waited::Abandoned),
            State::Running => None,
        }
    }

    /// A listener registered before the state is checked again, so that no
    /// notification falls between the check and the wait.
    fn listen(&self) -> Result<Waited, EventListener> {
        let listener = self.0.finished.listen();
        self.outcome().ok_or(listener)
    }

    /// Blocks this thread until the flight ends or `deadline` passes.
    pub(crate) fn wait(self, deadline: Instant) -> Waited {
        loop {
            match self.listen() {
                Ok(outcome) => return outcome,
                Err(listener) => {
                    if listener.wait_deadline(deadline).is_none() {
                        return self.outcome().unwrap_or(Waited::TimedOut);
                    }
                }
            }
        }
    }

    /// Awaits the end of the flight or `deadline`, without blocking the executor.
    #[cfg(feature = "tokio")]
    pub(crate) async fn wait_async(self, deadline: Instant) -> Waited {
        loop {
            match self.listen() {
                Ok(outcome) => return outcome,
                Err(listener) => {
                    let deadline = tokio::time::Instant::from_std(deadline);
                    if tokio::time::timeout_at(deadline, listener).await.is_err() {
                        return self.outcome().unwrap_or(Waited::TimedOut);
                    }
                }
            }
        }
    }
}

// Under loom these primitives work only inside a model (`handover_loom.rs`).
#[cfg(all(test, not(cachetool_loom)))]
mod tests;
