//! This process's near tiers, by prefix. A change this process makes (an
//! invalidation, a refresh, a clean, a new epoch) applies to every one of
//! them before it returns, whichever cache made it: two caches of one
//! prefix in one process (say, one that serves and one that cleans) must
//! not wait for the change's message to reach each other.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::Shared;

static TIERS: Mutex<Vec<Arc<Shared>>> = Mutex::new(Vec::new());
/// How many tiers there are: most processes have none, and their changes
/// then take no lock here.
static COUNT: AtomicUsize = AtomicUsize::new(0);

pub(super) fn register(tier: &Arc<Shared>) {
    let mut tiers = TIERS.lock();
    tiers.push(Arc::clone(tier));
    COUNT.store(tiers.len(), Ordering::Release);
}

pub(super) fn unregister(tier: &Arc<Shared>) {
    let mut tiers = TIERS.lock();
    tiers.retain(|kept| !Arc::ptr_eq(kept, tier));
    COUNT.store(tiers.len(), Ordering::Release);
}

/// Runs `apply` on every near tier of `prefix` in this process.
pub(super) fn each_tier_of(prefix: &str, apply: impl Fn(&Shared)) {
    if COUNT.load(Ordering::Acquire) == 0 {
        return;
    }
    for tier in TIERS.lock().iter().filter(|tier| &*tier.prefix == prefix) {
        apply(tier);
    }
}
