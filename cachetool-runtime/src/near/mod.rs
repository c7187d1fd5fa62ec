//! The near tier: a local tier a cache keeps in front of Redis or Memcached
//! (two-level caching, `CacheBuilder::local`). A hit in it makes no round
//! trip and decodes nothing; a miss reads the remote store as before, and a
//! remote hit fills it with the decoded value.
//!
//! Why it stays coherent with every process's writes (`coherence.rs` applies
//! what the change channel, `changes/`, tells):
//! - **An entry changed elsewhere** (stored, invalidated, refreshed): the
//!   message drops it and counts an invalidation of its stripe, under the
//!   stripe's lock (`invalidations.rs`; the tier's own counts, apart from
//!   the cache's, which only this process's invalidations move: a remote
//!   store needs no message's count, its compare-and-set sees the change).
//!   A remote read that will fill the tier took its stripe's count before it
//!   read, and fills, under the same lock, only if the count has not moved:
//!   a message that arrives while the read is on its way keeps the value it
//!   read out.
//! - **A tag cleaned, or the namespace** (`clean`, `clean_all`): the tag's
//!   version in the tier's namespace, or its epoch, is replaced, then the
//!   clean is counted; entries note the versions they were read under, so
//!   every entry of that tag becomes a miss at once. A fill reads those
//!   versions before its remote read, and fills only if no clean was counted
//!   since its call started.
//! - **The channel lost** (a disconnect, a restart, a failover): the tier is
//!   not used from the first moment, and is emptied; it is used again only
//!   once the subscription is confirmed again, after another emptying. A
//!   fill needs the channel up, and no clean counted since its call began
//!   (losing and finding the channel count as cleans).
//! - **This process's own changes** apply to the tier before the call that
//!   makes them returns (`call/near.rs`); its own messages, heard later,
//!   drop the entry once more (harmless: the next call reads it again).
//!
//! An entry lives until its remote entry stops being a plain hit (its TTL,
//! or its `refresh_ahead` point), and never longer than `local_ttl`. Without
//! a channel (Memcached without a backplane) `local_ttl` is the staleness
//! bound, and the builder requires it.

#[cfg(feature = "redis")]
mod coherence;
mod registry;
#[cfg(all(test, feature = "redis"))]
mod tests;
#[cfg(any(feature = "redis", feature = "memcached"))]
mod url;

#[cfg(any(feature = "redis", feature = "memcached"))]
pub(crate) use url::take_local_params;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::Backend;
use crate::invalidations::Mark;
use crate::key::CallId;
use crate::local::{entry, Header, LocalStore, LocalTier, TagPairs};
use crate::{Error, Result};

/// A cache's near tier and what keeps it coherent.
pub(crate) struct NearTier {
    shared: Arc<Shared>,
    /// The longest an entry is kept, whatever its remote TTL.
    local_ttl: Option<Duration>,
    /// Stops the subscriber's thread when the cache goes.
    #[cfg(feature = "redis")]
    _subscription: Option<crate::changes::Subscription>,
}

/// What the subscriber's handler shares with the calls.
struct Shared {
    prefix: Box<str>,
    store: LocalStore,
    /// The channel is up (always, without one): the tier may be read and filled.
    listening: AtomicBool,
}

/// What a call read of the tier's versions before its remote read, for a
/// fill with the value that read returns.
pub(crate) struct NearStart {
    /// The tier's counts of invalidations (of the call's stripe) and of
    /// cleans, read first.
    mark: Mark,
    epoch: u64,
    tags: TagPairs,
}

impl NearTier {
    /// A tier of `capacity` entries in front of `backend`, for the prefix
    /// `prefix`, subscribed to its changes if the backend has a channel.
    pub(crate) fn open(
        backend: &Arc<dyn Backend>,
        prefix: &str,
        capacity: usize,
        local_ttl: Option<Duration>,
    ) -> Result<NearTier> {
        if backend.is_local() {
            return Err(Error::config(
                "local applies to Redis and Memcached: an in-memory cache is local already",
            ));
        }
        if capacity == 0 {
            return Err(Error::config(
                "the local tier's capacity must be at least 1",
            ));
        }
        if local_ttl == Some(Duration::ZERO) {
            return Err(Error::config(
                "a local_ttl of zero would keep nothing; leave it unset to bound entries by their TTL",
            ));
        }
        let shared = Arc::new(Shared {
            prefix: prefix.into(),
            store: LocalStore::new(Arc::new(LocalTier::new(capacity)), prefix),
            listening: AtomicBool::new(false),
        });
        #[cfg(feature = "redis")]
        let subscription = coherence::subscribe(backend.as_ref(), prefix, &shared)?;
        #[cfg(not(feature = "redis"))]
        let subscription: Option<()> = None;
        if subscription.is_none() {
            if local_ttl.is_none() {
                return Err(Error::config(format!(
                    "a local tier in front of the {} backend hears no changes of other \
                     processes (it has no channel: give Memcached a Redis backplane), so it \
                     needs local_ttl, the longest it may serve a value changed elsewhere",
                    backend.name()
                )));
            }
            shared.listening.store(true, Ordering::Release);
        }
        registry::register(&shared);
        Ok(NearTier {
            shared,
            local_ttl,
            #[cfg(feature = "redis")]
            _subscription: subscription,
        })
    }

    /// A tier of `capacity` entries for `prefix`, with no channel yet (not
    /// listening), registered as any tier is.
    #[cfg(all(test, feature = "redis"))]
    fn unsubscribed(prefix: &str, capacity: usize, local_ttl: Option<Duration>) -> NearTier {
        let shared = Arc::new(Shared {
            prefix: prefix.into(),
            store: LocalStore::new(Arc::new(LocalTier::new(capacity)), prefix),
            listening: AtomicBool::new(false),
        });
        registry::register(&shared);
        NearTier {
            shared,
            local_ttl,
            _subscription: None,
        }
    }

    /// Whether the tier may be read and filled now.
    #[inline]
    pub(crate) fn listening(&self) -> bool {
        self.shared.listening.load(Ordering::Acquire)
    }

    /// The value of `call`, if the tier has a current one and may be read.
    #[inline]
    pub(crate) fn value<T: Clone + 'static>(&self, call: CallId) -> Option<T> {
        if !self.listening() {
            return None;
        }
        self.shared.store.current_value(call)
    }

    /// The counts and versions a fill of `call` (tagged `tags`) will be
    /// checked against, read before the remote read (see the module's
    /// notes); `None` if the tier can't be filled now.
    pub(crate) fn start(&self, call: CallId, tags: &[u64]) -> Option<NearStart> {
        if !self.listening() {
            return None;
        }
        let namespace = &self.shared.store.namespace;
        // The counts before the versions: an entry's versions are then
        // current through its count of cleans.
        let mark = namespace.invalidations.mark(call.spread());
        let (epoch, tags) = namespace.versions_now(tags);
        Some(NearStart { mark, epoch, tags })
    }

    /// Keeps `value` of `call`, read remotely after `start`, for at most
    /// `fresh_for` (`None`: its remote entry never expires), unless anything
    /// that may have changed it was heard since `start`, or the channel is down.
    pub(crate) fn fill<T: Clone + Send + Sync + 'static>(
        &self,
        start: &NearStart,
        call: CallId,
        value: &T,
        fresh_for: Option<Duration>,
    ) {
        let ttl = match (fresh_for, self.local_ttl) {
            (Some(fresh_for), Some(local_ttl)) => Some(fresh_for.min(local_ttl)),
            (fresh_for, local_ttl) => fresh_for.or(local_ttl),
        };
        if ttl.is_some_and(|ttl| ttl.is_zero()) {
            return;
        }
        let store = &self.shared.store;
        let invalidations = &store.namespace.invalidations;
        let key = store.key(call);
        let mark = start.mark;
        let header = Header::new(ttl, start.epoch, &start.tags, mark.cleans());
        let new_entry = entry(header, value.clone());
        invalidations.store_locally(mark, || {
            // Under the stripe's lock: a message of this entry is applied
            // wholly before or wholly after.
            if invalidations.cleans() == mark.cleans() && self.listening() {
                store.tier().insert(key, new_entry);
            }
        });
    }
}

impl Drop for NearTier {
    fn drop(&mut self) {
        registry::unregister(&self.shared);
    }
}

/// This process changed `call`'s remote entry in `prefix` (an
/// invalidation, a refresh): every near tier of the prefix in this process
/// drops its copy, and no fill from a read made before lands after.
pub(crate) fn drop_copies(prefix: &str, call: CallId) {
    registry::each_tier_of(prefix, |tier| tier.drop_entry(call));
}

/// This process cleaned `tags` (hashes of their names) in `prefix`: no near
/// tier of the prefix in this process serves their entries any more.
pub(crate) fn clean_tags_everywhere(prefix: &str, tags: impl Iterator<Item = u64>) {
    let mut tags = tags.peekable();
    if tags.peek().is_none() {
        return;
    }
    let tags: TagHashes = tags.collect();
    registry::each_tier_of(prefix, |tier| tier.clean_tags(&tags));
}

/// This process gave `prefix` a new epoch (`clean_all`): no near tier of
/// the prefix in this process serves anything it held.
pub(crate) fn new_epoch_everywhere(prefix: &str) {
    registry::each_tier_of(prefix, Shared::new_epoch);
}

type TagHashes = smallvec::SmallVec<[u64; 4]>;

impl Shared {
    /// Drops `call`'s entry, counting an invalidation of its stripe, under
    /// the stripe's lock (so that no fill from a read made before lands after).
    fn drop_entry(&self, call: CallId) {
        let invalidations = &self.store.namespace.invalidations;
        let key = self.store.key(call);
        let mark = invalidations.mark(call.spread());
        invalidations.invalidate_locally(mark, || self.store.tier().remove(&key));
    }

    /// Makes every entry tagged with one of `tags` a miss, and no fill in
    /// progress land (the versions first, then the count of cleans: see
    /// `local/namespace.rs`).
    fn clean_tags(&self, tags: &[u64]) {
        let namespace = &self.store.namespace;
        namespace.clean_tags(tags.iter().copied());
        namespace.invalidations.cleaned();
    }

    /// Makes every entry a miss, and no fill in progress land.
    fn new_epoch(&self) {
        let namespace = &self.store.namespace;
        namespace.new_epoch();
        namespace.invalidations.cleaned();
    }
}
