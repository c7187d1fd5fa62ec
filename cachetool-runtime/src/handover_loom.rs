//! Model check of the single-flight hand-over, with loom: every interleaving,
//! up to a bound on preemptions, of three callers of one key (a leader and
//! two waiters, or whichever roles the interleaving gives them), an
//! invalidation through their cache and one from another process.
//!
//! Run it with
//! `RUSTFLAGS="--cfg cachetool_loom" cargo test -p cachetool-runtime --release --lib loom`
//! (`scripts/test` does, in a target directory of its own).
//! `LOOM_MAX_PREEMPTIONS=3` checks deeper, 20 to 50 times longer.
//!
//! Nothing of the decision is re-implemented here. The callers run the real
//! `Request::get_or_compute`: lookup, flight, `lead` (lock, store, refused
//! stores and `StoreOutcome::may_hand_over`, `cleans_current_through`, the counts'
//! check in `LeaderGuard::finish`), and the waiter's `Handed::fits`. The
//! changes are the real `Request::invalidate`, `Cache::clean` and
//! `Cache::clean_all`. The flights and invalidation counts run on loom's locks
//! and atomics (`sync.rs`). Only the backend is the model's: a map behind a
//! loom mutex (`store.rs`), shared by two [`Cache`]s, one per process, as a
//! Redis or Memcached server is.
//!
//! The invariants are the ones callers rely on (issue 10's test, issue 17's
//! model). The cached function's "data" is a version that each change bumps
//! before it invalidates, and publishes once the invalidation returned.
//!
//! - A call that starts after an invalidation returned (this cache's, or
//!   another process's, which this cache's counts never see) gets a value
//!   computed after the change that the invalidation published: a call reads
//!   the published version when it starts, and the value it gets must be at
//!   least that.
//! - A call that joins a flight after an invalidation through this cache
//!   returned gets a value computed after it, even if it read the store
//!   before the invalidation: the version that this cache's changes had
//!   published when the call last joined a flight (noted at the join itself,
//!   under the flights' shard lock, by a hook of `flight.rs` in this build only:
//!   `sync::on_join`) bounds the value it gets too. This is what the
//!   invalidation counts (`LeaderGuard::finish`'s check) are for; with only
//!   the first invariant, the model passes with that check removed.
//!
//! The second is about this cache's invalidations only: a call that read the
//! store before another process's invalidation and joins the flight after it
//! may get the older value, as it may without a flight (its call overlaps the
//! invalidation), and no process can know of another's invalidation between
//! its own read and its join.
//!
//! Not modelled: time (no TTL expires, no waiter times out: one that does
//! computes its own value), evictions (a tombstone stays: the counts are
//! what covers its eviction, and only for this process's invalidations),
//! the other process's own callers (it only invalidates, so the shared lock
//! is never contended), async callers, failing backends and panicking bodies.

mod store;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use loom::sync::atomic::AtomicU64;

use crate::call::Request;
use crate::handover::loom_hooks;
use crate::key::{KeyPart, Site};
use crate::Cache;

/// What one model thread does with the shared world.
type ModelWork = Box<dyn FnOnce(&Arc<World>) + Send>;
use store::ModelStore;

/// Preemptions per interleaving (switches away from a thread that could have
/// gone on; switches where a thread blocks are free and unbounded) unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise. Two find every stale hand-over the
/// last test plants; each one more multiplies the interleavings by 20 to 50.
const PREEMPTIONS: usize = 2;

/// Scheduling decisions in one interleaving: loom's default (1,000) is for
/// smaller models.
const MAX_BRANCHES: usize = 100_000;

/// Stack of each model thread (a loom thread is a coroutine with a stack of
/// its own): a miss runs the whole load path.
const STACK: usize = 64 * 1024;

fn site_marker() -> &'static str {
    "model::load::__cachetool_site"
}

static SITE: Site = Site::new(site_marker, "", Some("model.load"), 0, true);
const TAG: &str = "t";

/// How a change invalidates.
#[derive(Debug, Clone, Copy)]
enum How {
    Invalidate,
    Clean,
    CleanAll,
}

/// Through which process a change invalidates.
#[derive(Debug, Clone, Copy)]
enum Through {
    /// The callers' cache: its counts see the change.
    Here,
    /// Another process's cache on the same store: only the store sees it.
    Elsewhere,
}

type Change = (Through, How);

use How::*;
use Through::*;

/// Two processes on one store, and the data the cached function reads.
struct World {
    /// The process whose callers share one flight.
    here: Cache,
    /// Another process, with flights and counts of its own.
    elsewhere: Cache,
    /// What the cached function reads: bumped by each change before it invalidates.
    /// (This and `published` are loom's, not std's, so that loom switches
    /// threads at their reads and writes too: with std's, the last test finds
    /// no stale value in the model of one change elsewhere.)
    data: AtomicU64,
    /// The newest `data` whose invalidation has returned.
    published: AtomicU64,
    /// The newest `data` whose invalidation through `here` has returned.
    /// Loom's, like `published`, and read by a joining call as it joins
    /// (`sync::on_join`): a call joins "after an invalidation returned" when
    /// that read sees it, which makes the invalidation happen before the join
    /// in the memory model. (A std atomic, read in loom's global order,
    /// would demand more than a program can see: the model then finds
    /// "stale" values that no caller could tell had been computed before
    /// the clean, as no synchronisation orders the clean's counting before
    /// the leader's check.)
    published_here: AtomicU64,
}

impl World {
    fn new() -> World {
        let store = Arc::new(ModelStore::new());
        let cache = || {
            Cache::builder()
                .backend(Arc::clone(&store) as _)
                .build()
                .expect("a valid model cache")
        };
        World {
            here: cache(),
            elsewhere: cache(),
            data: AtomicU64::new(0),
            published: AtomicU64::new(0),
            published_here: AtomicU64::new(0),
        }
    }

    fn request<'c>(&self, cache: &'c Cache) -> Request<'c> {
        Request::new(cache, &SITE, None, &[], KeyPart::custom("k"), &[TAG], None)
    }

    /// A caller of the cached function in this process, checking the invariants.
    fn call(self: &Arc<World>) {
        let after = self.published.load(SeqCst);
        // What this cache's changes had published when this call last joined a flight.
        let at_join = Rc::new(Cell::new(0));
        let (world, noted) = (Arc::clone(self), Rc::clone(&at_join));
        crate::sync::on_join(Some(Box::new(move || {
            noted.set(world.published_here.load(SeqCst));
        })));
        let got = self
            .request(&self.here)
            .get_or_compute(|| self.data.load(SeqCst));
        crate::sync::on_join(None);
        assert!(
            got >= after,
            "stale value: a call that started after the invalidation of version {after} \
             returned got version {got}, computed before it"
        );
        let joined = at_join.get();
        assert!(
            got >= joined,
            "stale value: a call that joined a flight after this cache's invalidation of \
             version {joined} returned got version {got}, computed before it"
        );
    }

    /// Changes the data, then invalidates it, then publishes it.
    fn change(&self, (through, how): Change) {
        let cache = match through {
            Here => &self.here,
            Elsewhere => &self.elsewhere,
        };
        let version = self.data.fetch_add(1, SeqCst) + 1;
        match how {
            Invalidate => self.request(cache).invalidate(),
            Clean => cache.clean(&[TAG]),
            CleanAll => cache.clean_all(),
        }
        .expect("the model store never fails");
        if let Here = through {
            self.published_here.fetch_max(version, SeqCst);
        }
        self.published.fetch_max(version, SeqCst);
    }
}

/// What a model check ran.
struct Ran {
    interleavings: usize,
    /// Values waiters took from a leader, over all interleavings.
    handed_over: u64,
}

/// Runs every interleaving of three callers and `changes` (one or two: loom
/// runs five threads at most) with at most `preemptions` preemptions each.
fn explore(changes: &[Change], preemptions: usize) -> Ran {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(preemptions);
    // Every interleaving within the bound: never cut short by loom's own
    // `LOOM_MAX_DURATION` or `LOOM_MAX_PERMUTATIONS`.
    builder.max_duration = None;
    builder.max_permutations = None;
    builder.max_branches = builder.max_branches.max(MAX_BRANCHES);
    let interleavings = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&interleavings);
    assert!(!changes.is_empty(), "at least one change");
    // loom runs five threads at most, its own included. With one change, that
    // change gets a thread too, and the model's thread only waits: which
    // thread goes first is then a free choice, not a preemption, and a
    // stale hand-over that needs the change to come after a caller's read
    // and a leader's store is within two preemptions. With two changes, the
    // model's thread makes the last one.
    let (spawned, last) = match changes {
        [change] => (vec![*change], None),
        _ => (
            changes[..changes.len() - 1].to_vec(),
            changes.last().copied(),
        ),
    };
    let taken_before = loom_hooks::taken_so_far();
    builder.check(move || {
        counted.fetch_add(1, SeqCst);
        let world = Arc::new(World::new());
        let spawn = |work: ModelWork| {
            let world = Arc::clone(&world);
            loom::thread::Builder::new()
                .stack_size(STACK)
                .spawn(move || work(&world))
                .expect("a model thread")
        };
        let mut threads = vec![
            spawn(Box::new(World::call)),
            spawn(Box::new(World::call)),
            spawn(Box::new(World::call)),
        ];
        for &change in &spawned {
            threads.push(spawn(Box::new(move |world| world.change(change))));
        }
        if let Some(last) = last {
            world.change(last);
        }
        for thread in threads {
            thread.join().expect("a model thread panicked");
        }
    });
    let ran = Ran {
        interleavings: interleavings.load(SeqCst),
        handed_over: loom_hooks::taken_so_far() - taken_before,
    };
    println!(
        "{changes:?}: {} interleavings of at most {preemptions} preemptions, \
         {} values handed over",
        ran.interleavings, ran.handed_over
    );
    ran
}

/// Checks that no interleaving breaks the invariant (a stale value panics in
/// `World::call`), at `preemptions` or what `LOOM_MAX_PREEMPTIONS` says.
fn check(changes: &[Change], preemptions: usize) {
    let preemptions = match std::env::var("LOOM_MAX_PREEMPTIONS") {
        Ok(bound) => bound.parse().expect("LOOM_MAX_PREEMPTIONS is a number"),
        Err(_) => preemptions,
    };
    let ran = explore(changes, preemptions);
    // A model whose waiters never take a value checks nothing.
    assert!(
        ran.handed_over > 0,
        "{changes:?}: no waiter ever took a leader's value"
    );
}

// The largest model (520,000 interleavings: most of the check's time), with
// the other process's change on the model's own thread (the other way round,
// more).
#[test]
fn loom_no_stale_value_after_invalidations_here_and_elsewhere() {
    check(&[(Here, Invalidate), (Elsewhere, Invalidate)], PREEMPTIONS);
}

// Five threads with cleans at two preemptions would take about 100 s more
// each: one preemption here, two in the models of each change alone below.
#[test]
fn loom_no_stale_value_after_a_clean_here_and_a_clean_all_elsewhere() {
    check(&[(Elsewhere, CleanAll), (Here, Clean)], 1);
}

#[test]
fn loom_no_stale_value_after_a_clean_all_here_and_a_clean_elsewhere() {
    check(&[(Elsewhere, Clean), (Here, CleanAll)], 1);
}

#[test]
fn loom_no_stale_value_after_each_change_here() {
    for how in [Invalidate, Clean, CleanAll] {
        check(&[(Here, how)], PREEMPTIONS);
    }
}

#[test]
fn loom_no_stale_value_after_each_change_elsewhere() {
    for how in [Invalidate, Clean, CleanAll] {
        check(&[(Elsewhere, how)], PREEMPTIONS);
    }
}

/// The model check's own check: with the waiters' check off (a waiter takes
/// whatever its leader hands it, as before the fix of issue 10), loom must
/// find a call that gets a value computed before another process's
/// invalidation, clean or clean_all returned.
#[test]
fn loom_finds_the_stale_hand_over_when_waiters_take_any_value() {
    let models: [&[Change]; 4] = [
        &[(Elsewhere, Invalidate)],
        &[(Elsewhere, Clean)],
        &[(Elsewhere, CleanAll)],
        &[(Elsewhere, Invalidate), (Here, Invalidate)],
    ];
    for changes in models {
        loom_hooks::turn_check_off(true);
        let found = std::panic::catch_unwind(|| explore(changes, PREEMPTIONS));
        loom_hooks::turn_check_off(false);
        let panic = match found {
            Ok(ran) => panic!(
                "{changes:?}: loom found no stale value in {} interleavings with the \
                 waiters' check off: the model cannot catch the bug it is for",
                ran.interleavings
            ),
            Err(panic) => panic,
        };
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        assert!(
            message.starts_with("stale value:"),
            "{changes:?}: the model failed otherwise than by a stale value: {message:?}"
        );
        println!("{changes:?}, waiters' check off: found {message:?}");
    }
}
