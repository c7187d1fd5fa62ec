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
use crate::key::{CallId, KeyPart, Site};
use crate::near::{NearStart, NearTier};

/// The first look of a call of a remote cache with a near tier: a hit
/// returns with no round trip; anything else goes on to the remote lookup,
/// which counts it.
#[inline]
pub(super) fn look_near<T: Cacheable>(
    inner: &Inner,
    near: &NearTier,
    site: &'static Site,
    self_type: Option<&'static str>,
    generics: &[&'static str],
    key: &KeyPart,
) -> LocalLook<T> {
    if !near.listening() {
        return LocalLook::NotLooked;
    }
    let self_type = self_type.filter(|self_type| site.keys_self(self_type));
    let Some(call) = CallId::new(site, self_type, generics, key) else {
        return LocalLook::NotLooked;
    };
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
    #[inline]
    pub(crate) fn near_start(&self) -> Option<NearStart> {
        let near = self.inner().near.as_ref()?;
        near.start(self.call?, &self.tag_hashes)
    }

    /// The value of `entry` (computed under `versions`) if it is a plain hit
    /// for this call, kept in the near tier for as long as it is one.
    pub(crate) fn fresh_value_filling<T: Cacheable>(
        &self,
        entry: &Value,
        versions: &[u64],
        start: NearStart,
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
        start: NearStart,
        value: &T,
        fresh_for: Option<Duration>,
    ) {
        if let (Some(near), Some(call)) = (&self.inner().near, self.call) {
            near.fill(start, call, value, fresh_for);
        }
    }

    /// This process changed the call's remote entry (an invalidation, a
    /// refresh): with a near tier, its copy goes, and no fill from a read
    /// made before lands after.
    pub(crate) fn changed_here(&self) {
        if let (Some(near), Some(call)) = (&self.inner().near, self.call) {
            near.drop_entry(call);
        }
    }
}
