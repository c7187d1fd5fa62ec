//! What this process has invalidated while computations were running, so
//! that a computation overtaken by an invalidation neither stores its value
//! nor hands it to the callers waiting for it.
//!
//! An invalidation leaves a tombstone under the entry's key, and a store only
//! replaces what it read before computing: that keeps a computation that
//! started earlier from storing over the tombstone. But a tombstone is a key
//! like any other and a full cache may evict it (the memory backend's
//! admission policy drops a new key quickly; a server under memory pressure
//! too): a store that finds the key absent, as it was read, would then
//! succeed, and serve the value computed from data older than the
//! invalidation. So each invalidation of this process is also counted here,
//! per stripe of keys, and each call notes the counts when it starts; a store
//! or a hand-over to waiters happens only if the count of its stripe is still
//! the one noted. `clean` and `clean_all` are counted too: a store needs no
//! check for them (an entry records its versions), but a hand-over to callers
//! that may have started after the clean does (`call/lead.rs` then reads the
//! versions again).
//!
//! With a backend in this process, the check and the store are done under
//! the stripe's lock, which the invalidation holds while it writes its
//! tombstone: nothing can slip between them. With a remote backend (whose
//! calls are awaited, and other processes' invalidations are not counted
//! here), the check is made just before the store: it closes all but the
//! window of the store's own round trip.

use std::sync::atomic::Ordering;

// parking_lot's and std's; loom's in the model check.
use crate::sync::{AtomicU64, RwLock};

/// Invalidation counts of one cache.
pub(crate) struct Invalidations {
    stripes: Box<[Stripe]>,
    /// `clean` and `clean_all` calls: they change versions, not keys, so any
    /// of them may concern any computation running.
    cleans: AtomicU64,
}

/// Keys whose call hash lands here: an invalidation of one of them makes the
/// computations of all of them not store (a rare, harmless overlap).
#[derive(Default)]
struct Stripe {
    invalidations: AtomicU64,
    /// Held shared by a store's check-and-write, exclusively by an
    /// invalidation's tombstone-and-count, for backends in this process.
    writing: RwLock<()>,
}

/// (Fewer in the model check, which builds them anew for every interleaving.)
const STRIPES: usize = if cfg!(cachetool_loom) { 2 } else { 256 };

/// The counts a call started under, for its stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    stripe: usize,
    invalidations: u64,
    cleans: u64,
}

impl Mark {
    /// The count of cleans when the call started.
    pub(crate) fn cleans(self) -> u64 {
        self.cleans
    }
}

impl Invalidations {
    pub(crate) fn new() -> Invalidations {
        Invalidations {
            stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
            cleans: AtomicU64::new(0),
        }
    }

    /// The counts now, for a call whose key (function and arguments) hashes
    /// to `key_hash`.
    pub(crate) fn mark(&self, key_hash: u64) -> Mark {
        let stripe = key_hash as usize % STRIPES;
        Mark {
            stripe,
            invalidations: self.stripes[stripe].invalidations.load(Ordering::Acquire),
            cleans: self.cleans.load(Ordering::Acquire),
        }
    }

    /// Whether no key of `mark`'s stripe was invalidated since it was taken.
    pub(crate) fn unchanged_since(&self, mark: Mark) -> bool {
        self.stripes[mark.stripe]
            .invalidations
            .load(Ordering::Acquire)
            == mark.invalidations
    }

    /// How many `clean` and `clean_all` calls there have been.
    pub(crate) fn cleans(&self) -> u64 {
        self.cleans.load(Ordering::Acquire)
    }

    /// Whether no key of `mark`'s stripe was invalidated since it was taken,
    /// and the cleans are still `cleans`.
    pub(crate) fn untouched_since(&self, mark: Mark, cleans: u64) -> bool {
        self.unchanged_since(mark) && self.cleans() == cleans
    }

    /// Runs `write` (an invalidation's tombstone, to a backend in this
    /// process) and counts it, with no store of the stripe in between.
    pub(crate) fn invalidate_locally<R>(&self, mark: Mark, write: impl FnOnce() -> R) -> R {
        let stripe = &self.stripes[mark.stripe];
        let _writing = stripe.writing.write();
        let outcome = write();
        stripe.invalidations.fetch_add(1, Ordering::AcqRel);
        outcome
    }

    /// Counts an invalidation of `mark`'s stripe written to a remote backend.
    pub(crate) fn invalidated(&self, mark: Mark) {
        self.stripes[mark.stripe]
            .invalidations
            .fetch_add(1, Ordering::AcqRel);
    }

    /// Counts a `clean` or `clean_all`.
    pub(crate) fn cleaned(&self) {
        self.cleans.fetch_add(1, Ordering::AcqRel);
    }

    /// Runs `store` (to a backend in this process) only if nothing was
    /// invalidated since `mark`, with no invalidation of the stripe in between.
    pub(crate) fn store_locally<R>(&self, mark: Mark, store: impl FnOnce() -> R) -> Option<R> {
        let _writing = self.stripes[mark.stripe].writing.read();
        self.unchanged_since(mark).then(store)
    }
}

// Under loom these primitives work only inside a model (`handover_loom.rs`).
#[cfg(all(test, not(cachetool_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_store_happens_only_while_its_stripe_is_untouched() {
        let invalidations = Invalidations::new();
        let mark = invalidations.mark(7);
        let other = invalidations.mark(8);
        assert_eq!(invalidations.store_locally(mark, || 1), Some(1));
        invalidations.invalidate_locally(other, || ());
        assert!(invalidations.unchanged_since(mark), "another stripe");
        invalidations.invalidate_locally(mark, || ());
        assert_eq!(invalidations.store_locally(mark, || 1), None);
        let after = invalidations.mark(7);
        assert_eq!(invalidations.store_locally(after, || 2), Some(2));
        invalidations.invalidated(after);
        assert!(!invalidations.unchanged_since(after));
    }

    #[test]
    fn a_clean_is_counted_apart_from_invalidations() {
        let invalidations = Invalidations::new();
        let marks: Vec<Mark> = (0..STRIPES as u64)
            .map(|hash| invalidations.mark(hash))
            .collect();
        invalidations.cleaned();
        assert!(marks
            .iter()
            .all(|&mark| !invalidations.untouched_since(mark, mark.cleans())));
        assert!(marks
            .iter()
            .all(|&mark| invalidations.unchanged_since(mark)));
        assert_eq!(invalidations.store_locally(marks[0], || 1), Some(1));
    }
}
