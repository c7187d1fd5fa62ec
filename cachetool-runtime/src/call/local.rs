//! A call whose cache is in this process's memory: the lookup, the store, an
//! invalidation, a refresh and a peek, all on the local tier, keyed by the
//! call's identity. (The miss and its single flight are `local_miss.rs`; a
//! remote backend's call is `miss.rs` and the files beside it.)
//!
//! Why no tombstone: an invalidation removes the entry and moves on its
//! stripe's count under the stripe's lock (`invalidations.rs`), and a store
//! happens under the same lock only if the count has not moved since the
//! call began. The counts are the namespace's, shared by every cache of the
//! prefix on this backend, so no computation that started before an
//! invalidation returned stores or hands over its value, whichever cache made
//! it, and there is no tombstone for eviction to lose.

use std::future::Future;
use std::time::Duration;

use super::expiry::kept_for;
use super::Request;
use super::{Found, Miss};
use crate::__private::Cacheable;
use crate::local::{entry, Header, LocalStore, TagPairs};
use crate::{Error, ErrorKind, Result};

/// The versions a computation started from: the epoch and its tags'.
pub(crate) struct Started {
    pub(crate) epoch: u64,
    pub(crate) tags: TagPairs,
}

/// What a lookup of a local store found: [`Found`] without what a remote
/// miss carries to its store, a few hundred bytes that every step of a local
/// miss would otherwise move and drop.
pub(crate) enum LocalFound<T> {
    Hit(T),
    Miss,
    /// The arguments make no key: compute without storing.
    Uncacheable,
}

impl<T> From<Found<T>> for LocalFound<T> {
    #[inline]
    fn from(found: Found<T>) -> LocalFound<T> {
        match found {
            Found::Hit(value) => LocalFound::Hit(value),
            Found::Miss(_) => LocalFound::Miss,
            Found::Uncacheable => LocalFound::Uncacheable,
        }
    }
}

impl<T> From<LocalFound<T>> for Found<T> {
    #[inline]
    fn from(found: LocalFound<T>) -> Found<T> {
        match found {
            LocalFound::Hit(value) => Found::Hit(value),
            LocalFound::Miss => Found::Miss(Miss::unread()),
            LocalFound::Uncacheable => Found::Uncacheable,
        }
    }
}

impl<'c> Request<'c> {
    /// The local store, if the cache has one.
    #[inline]
    pub(crate) fn local(&self) -> Option<&'c LocalStore> {
        self.inner().local.as_ref()
    }

    /// The call's lookup with a local store: the generated code's first look
    /// if it made one and missed (counted already), else [`local_found`](Request::local_found).
    #[inline]
    pub(crate) fn local_lookup<T: Cacheable>(&self, local: &LocalStore) -> LocalFound<T> {
        if self.missed_locally {
            return LocalFound::Miss;
        }
        self.local_found(local)
    }

    /// The entry's value, if there is a current one: counted as a hit or a miss.
    #[inline]
    pub(crate) fn local_found<T: Cacheable>(&self, local: &LocalStore) -> LocalFound<T> {
        let Some(call) = self.call else {
            return LocalFound::Uncacheable;
        };
        if let Some(value) = local.current_value(call) {
            self.count_hit();
            return LocalFound::Hit(value);
        }
        self.count_miss();
        LocalFound::Miss
    }

    /// The stored value, if there is a current one, counted as nothing.
    pub(crate) fn local_peek<T: Cacheable>(&self, local: &LocalStore) -> Option<T> {
        local.peek_current_value(self.call?)
    }

    /// [`reload`](Request::reload) with a local store.
    pub(crate) async fn local_reload<T: Cacheable, E>(
        &self,
        local: &LocalStore,
        body: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        if self.call.is_none() {
            return self.load(body).await;
        }
        let started = self.local_started(local);
        let outcome = self.load(body).await;
        if let Ok(value) = &outcome {
            self.local_store(local, &started, value);
        }
        outcome
    }

    /// The versions now, read before the body runs (the count of cleans was
    /// noted when the call began: see `namespace.rs`).
    pub(crate) fn local_started(&self, local: &LocalStore) -> Started {
        let (epoch, tags) = local.namespace.versions_now(&self.tag_hashes);
        Started { epoch, tags }
    }

    /// Stores `value` unless `unless` or a zero TTL says not to. False only if
    /// an invalidation overtook the computation (nothing stored, nothing to
    /// hand over).
    pub(crate) fn local_store<T: Cacheable>(
        &self,
        local: &LocalStore,
        started: &Started,
        value: &T,
    ) -> bool {
        let Some(call) = self.call else {
            return true;
        };
        // A value that `unless` rejects still goes to the waiters.
        let ttl = self.entry_ttl(value);
        if ttl == Some(Duration::ZERO) || self.skips_store(value) {
            return true;
        }
        let mut header = Header::new(ttl, started.epoch, &started.tags, self.mark.cleans());
        let keep_expired = self.keep_expired();
        // Kept past its freshness only for `fail_safe` (no second clock read else).
        if !keep_expired.is_zero() {
            header = header.kept_for(kept_for(ttl, keep_expired));
        }
        if let (Some(ttl), true) = (ttl, self.refresh_ahead > 0.0) {
            header = header.refreshed_after(ttl.mul_f32(self.refresh_ahead));
        }
        let new_entry = entry(header, value.clone());
        let key = local.key(call);
        let invalidations = &self.inner().invalidations;
        invalidations
            .store_locally(self.mark, || local.tier().insert(key, new_entry))
            .is_some()
    }

    /// [`drop_entry`](Request::drop_entry) with a local store: the entry goes,
    /// and the invalidation is counted with no store of its stripe in between.
    pub(crate) fn local_invalidate(&self, local: &LocalStore) -> Result<()> {
        let Some(call) = self.call else {
            let reason = self.unkeyable.as_deref().unwrap_or("no key");
            return Err(Error::new(
                ErrorKind::Codec,
                format!("the arguments could not be encoded as a key: {reason}"),
            ));
        };
        let key = local.key(call);
        let invalidations = &self.inner().invalidations;
        invalidations.invalidate_locally(self.mark, || local.tier().remove(&key));
        Ok(())
    }
}
