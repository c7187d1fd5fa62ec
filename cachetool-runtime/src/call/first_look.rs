//! A call's first look at a local store, made by the generated code before
//! it builds the call's [`Request`]: a hit then costs the arguments' hash,
//! one read of the local tier and a clone of the value, and nothing else (no
//! request, no invalidation mark, no tag expression evaluated, no string).
//!
//! A miss goes on as before: the generated code builds the request and tells
//! it, with [`Request::after`], that the look was made and counted, so the
//! request does not look again.

use super::Request;
use crate::__private::Cacheable;
use crate::cache::{Cache, Inner};
use crate::key::{CallId, KeyPart, Site};

/// What the first look found.
pub enum LocalLook<T> {
    /// A current value: the call returns it.
    Hit(T),
    /// No current value (counted as a miss).
    Missed,
    /// Not looked: the cache is remote (and its near tier, if it has one,
    /// had no current value: the remote lookup counts the call), or the
    /// arguments make no key.
    NotLooked,
}

impl<T> LocalLook<T> {
    /// Whether the store was looked at and had no current value (what
    /// [`Request::after`] takes).
    #[inline]
    pub fn missed(&self) -> bool {
        matches!(self, LocalLook::Missed)
    }
}

/// The first look of a call of `site` with `key` (and `self_type` and
/// `generics` as [`Request::new`] takes them).
#[inline]
pub fn look_locally<T: Cacheable>(
    cache: &Cache,
    site: &'static Site,
    self_type: Option<&'static str>,
    generics: &[&'static str],
    key: &KeyPart,
) -> LocalLook<T> {
    let inner = &cache.inner;
    let Some(local) = &inner.local else {
        return look_near(inner, site, self_type, generics, key);
    };
    let Some(call) = call_id(site, self_type, generics, key) else {
        return LocalLook::NotLooked;
    };
    match local.current_value(call) {
        Some(value) => {
            inner.count_hit(site);
            LocalLook::Hit(value)
        }
        None => {
            inner.count_miss(site);
            LocalLook::Missed
        }
    }
}

/// [`look_locally`] of a remote cache: its near tier, if it has one.
/// (Not inlined: the in-memory hit above stays as small as it was, which
/// callgrind counts in instructions.)
#[inline(never)]
fn look_near<T: Cacheable>(
    inner: &Inner,
    site: &'static Site,
    self_type: Option<&'static str>,
    generics: &[&'static str],
    key: &KeyPart,
) -> LocalLook<T> {
    match &inner.near {
        Some(near) if near.listening() => {
            let call = call_id(site, self_type, generics, key);
            call.map_or(LocalLook::NotLooked, |call| {
                super::near::look_near(inner, near, site, call)
            })
        }
        _ => LocalLook::NotLooked,
    }
}

/// The call's identity, `Self` keyed only where the site needs it.
#[inline]
fn call_id(
    site: &'static Site,
    self_type: Option<&'static str>,
    generics: &[&'static str],
    key: &KeyPart,
) -> Option<CallId> {
    let self_type = self_type.filter(|self_type| site.keys_self(self_type));
    CallId::new(site, self_type, generics, key)
}

impl Request<'_> {
    /// Tells the request that the first look was made and found no current
    /// value (`missed`): its own lookup is then that miss, not a second read.
    #[inline]
    pub fn after(mut self, missed: bool) -> Self {
        self.missed_locally = missed;
        self
    }
}
