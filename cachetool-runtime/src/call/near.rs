//! A call's use of the near tier, the local tier a cache keeps in front of
//! Redis or Memcached (`near/`): the first look, the fill after a remote
//! hit, and this process's own changes, applied before they return.

use std::time::Duration;

use super::first_look::LocalLook;
use super::Request;
use crate::__private::Cacheable;
use crate::backend::Value;
use crate::cache::Inner;
use crate::codec;
use crate::key::{CallId, Site};
use crate::near::{NearStart, NearTier};

/// The first look of a call of a remote cache at its near tier: a hit
/// returns with no round trip; anything else goes on to the remote lookup,
/// which counts it.
#[inline]
pub(super) fn look_near<T: Cacheable>(
    inner: &Inner,
    near: &NearTier,
    site: &'static Site,
    call: CallId,
) -> LocalLook<T> {
    match near.value(call) {
        Some(value) => {
            inner.count_local_hit(site);
            LocalLook::Hit(value)
        }
        None => LocalLook::NotLooked,
    }
}

impl Request<'_> {
    /// The near tier's current value of this call, counted as a hit.
    pub(crate) fn near_hit<T: Cacheable>(&self) -> Option<T> {
        let value = self.inner().near.as_ref()?.value(self.call?)?;
        self.count_local_hit();
        Some(value)
    }

    /// What a remote read that may fill the near tier reads first (`None`:
    /// no near tier, or it can't be filled now).
    /// (Boxed: it is held across the remote read's `.await`, and every
    /// byte of an async lookup's future counts in a deep recursion.)
    #[inline]
    pub(crate) fn near_start(&self) -> Option<Box<NearStart>> {
        let near = self.inner().near.as_ref()?;
        near.start(self.call?, &self.tag_hashes).map(Box::new)
    }

    /// The value of `entry` (computed under `versions`) if it is a plain hit
    /// for this call, kept in the near tier for as long as it is one.
    pub(crate) fn fresh_value_filling<T: Cacheable>(
        &self,
        entry: &Value,
        versions: &[u64],
        start: &NearStart,
    ) -> Option<T> {
        let decoded = codec::decode_expired_too::<T>(entry, versions)?;
        let fresh_for = decoded.plain_hit_for(self.refresh_ahead)?;
        self.fill_near(start, &decoded.value, fresh_for);
        Some(decoded.value)
    }

    /// Keeps `value`, read remotely after `start`, in the near tier for at
    /// most `fresh_for` (`None`: no TTL).
    pub(crate) fn fill_near<T: Cacheable>(
        &self,
        start: &NearStart,
        value: &T,
        fresh_for: Option<Duration>,
    ) {
        if let (Some(near), Some(call)) = (&self.inner().near, self.call) {
            near.fill(start, call, value, fresh_for);
        }
    }

    /// This process changed the call's remote entry (an invalidation, a
    /// refresh): the near tiers of its prefix in this process drop their
    /// copies before the change returns.
    pub(crate) fn drop_near_copies(&self) {
        if let Some(call) = self.call {
            crate::near::drop_copies(self.inner().namespace.prefix(), call);
        }
    }
}
