//! `#[cached(stale = ..)]` and `#[cached(refresh_ahead = ..)]`: a call that
//! finds a value due for a recomputation returns it at once and starts the
//! recomputation in the background (`background.rs`).
//!
//! A value is due when it is past `refresh_ahead` of its TTL (and still
//! fresh), or past its TTL by less than `stale`. Only the generated code's
//! first look ([`Request::look_for_stale`]) serves such a value; every other
//! lookup of a request treats it as a miss (`fresh_value`), so that the
//! recomputation, an ordinary call of the function made with
//! [`Request::in_background`], computes rather than finds it. It goes
//! through the key's flight and lock and stores by compare-and-set like any
//! miss: one computation per key across processes, and none stored after an
//! invalidation that overtook it.

use std::time::Duration;

use super::lookup::versions_of;
use super::outcome::Values;
use super::{Found, Request};
use crate::__private::Cacheable;
use crate::backend::Value;
use crate::background::Revalidation;
use crate::codec;
use crate::local::LocalStore;
use crate::near::NearStart;
use crate::Error;

/// What [`Request::look_for_stale`] found.
// The request goes back by value, as the generated code goes on with it:
// boxing it would allocate on every miss.
#[allow(clippy::large_enum_variant)]
pub enum Looked<'c, T> {
    /// A fresh value: the call returns it.
    Hit(T),
    /// A value due for a recomputation: the call returns it, and starts the
    /// recomputation with the claim if it got one (`None`: one runs already,
    /// or failed a moment ago).
    Stale(T, Option<Revalidation>),
    /// Nothing to serve: the call goes on with its request, which keeps
    /// what the look read.
    Miss(Request<'c>),
}

impl<'c> Request<'c> {
    /// An entry past its TTL by less than `within` is served while it is
    /// recomputed in the background; the entry is kept that long.
    pub fn stale(mut self, within: Duration) -> Request<'c> {
        self.stale = super::expiry::Window::new(within);
        self
    }

    /// An entry past `fraction` of its TTL is served while it is
    /// recomputed in the background. The macro checked `0 < fraction < 1`.
    pub fn refresh_ahead(mut self, fraction: f32) -> Request<'c> {
        self.refresh_ahead = fraction;
        self
    }

    /// This call recomputes in the background: its lookups count nothing
    /// (the call that started it counted its own).
    pub fn in_background(mut self) -> Request<'c> {
        self.background = true;
        self
    }

    /// The first look of a `stale` or `refresh_ahead` function, made by the
    /// generated code before its body exists, so that a value due for a
    /// recomputation can be returned while the owned arguments go to it.
    pub fn look_for_stale<T: Cacheable>(self) -> Looked<'c, T> {
        let cache = self.cache;
        if let Some(local) = &cache.inner.local {
            return self.look_locally_for_stale(local);
        }
        if self.unkeyable.is_some() {
            return Looked::Miss(self);
        }
        if let Some(value) = self.near_hit() {
            return Looked::Hit(value);
        }
        let keys = self.lookup_keys();
        let asked = keys.len();
        let near = self.near_start();
        let mut values = Values::new();
        let read = (cache.inner.backend).read_each(&keys, &mut |value| values.push(value));
        drop(keys);
        self.looked(asked, read.as_ref().map(|()| &values[..]), near)
    }

    /// [`look_for_stale`](Request::look_for_stale) for an `async fn`.
    #[cfg(feature = "tokio")]
    pub async fn look_for_stale_async<T: Cacheable>(self) -> Looked<'c, T> {
        let cache = self.cache;
        if let Some(local) = &cache.inner.local {
            return self.look_locally_for_stale(local);
        }
        if self.unkeyable.is_some() {
            return Looked::Miss(self);
        }
        if let Some(value) = self.near_hit() {
            return Looked::Hit(value);
        }
        let keys = self.lookup_keys();
        let asked = keys.len();
        let near = self.near_start();
        let driver = crate::driver::Tokio;
        let values = crate::driver::Driver::get_many(&driver, &cache.inner.backend, &keys).await;
        drop(keys);
        self.looked(asked, values.as_deref(), near)
    }

    /// What the values read for `lookup_keys` (`asked` of them) mean to a
    /// first look: counted as a hit (and as stale) or a miss. A plain hit
    /// fills the near tier, with the versions `near` read before the values.
    fn looked<T: Cacheable>(
        mut self,
        asked: usize,
        values: Result<&[Option<Value>], &Error>,
        near: Option<Box<NearStart>>,
    ) -> Looked<'c, T> {
        if let Some((value, due)) = self.servable(asked, values, near) {
            self.count_hit();
            return match due {
                false => Looked::Hit(value),
                true => self.stale_hit(value),
            };
        }
        let pre_read = match self.found::<T>(asked, values) {
            // Not servable, but a hit: not reached (a hit is servable).
            Found::Hit(value) => return Looked::Hit(value),
            Found::Miss(miss) => Found::Miss(miss),
            Found::Uncacheable => Found::Uncacheable,
        };
        self.pre_read = Some(Box::new(pre_read));
        Looked::Miss(self)
    }

    /// The entry's value if it is current and fresh, or due for a refresh
    /// ahead of its TTL, or past its TTL by less than `stale`; with whether
    /// it is due for a recomputation.
    fn servable<T: Cacheable>(
        &self,
        asked: usize,
        values: Result<&[Option<Value>], &Error>,
        near: Option<Box<NearStart>>,
    ) -> Option<(T, bool)> {
        let [Some(entry), versions @ ..] = values.ok()? else {
            return None;
        };
        if versions.len() + 1 != asked {
            return None;
        }
        let decoded = codec::decode_expired_too::<T>(entry, &versions_of(versions)?)?;
        let due = match decoded.fresh_until.expired_for() {
            None => self.refresh_ahead > 0.0 && decoded.refresh_due(self.refresh_ahead),
            Some(ago) if ago < self.stale.get().unwrap_or(Duration::ZERO) => true,
            Some(_) => return None,
        };
        if let (false, Some(start)) = (due, near) {
            if let Some(fresh_for) = decoded.plain_hit_for(self.refresh_ahead) {
                self.fill_near(&start, &decoded.value, fresh_for);
            }
        }
        Some((decoded.value, due))
    }

    /// [`look_for_stale`](Request::look_for_stale) with a local store.
    fn look_locally_for_stale<T: Cacheable>(mut self, local: &LocalStore) -> Looked<'c, T> {
        let Some(call) = self.call else {
            return Looked::Miss(self);
        };
        let stale = self.stale.get().unwrap_or(Duration::ZERO);
        match local.value_to_revalidate::<T>(call, stale) {
            Some((value, due)) => {
                self.count_hit();
                match due {
                    false => Looked::Hit(value),
                    true => self.stale_hit(value),
                }
            }
            None => {
                self.count_miss();
                self.missed_locally = true;
                Looked::Miss(self)
            }
        }
    }

    /// `value`, due for a recomputation, answers the call: counted, and the
    /// recomputation claimed if none runs.
    fn stale_hit<T>(self, value: T) -> Looked<'c, T> {
        self.count_stale();
        let claim = self
            .call
            .and_then(|call| Revalidation::claim(self.cache, call));
        Looked::Stale(value, claim)
    }

    /// The call's first lookup: what its look for a stale value read, if it
    /// made one, or a read now.
    pub(crate) fn first_lookup_now<T: Cacheable>(&mut self) -> Found<T> {
        match self.pre_read.take().map(|found| *found) {
            Some(Found::Miss(miss)) => Found::Miss(miss),
            Some(Found::Uncacheable) => Found::Uncacheable,
            Some(Found::Hit(never)) => match never {},
            None => self.lookup_now(),
        }
    }

    /// The value of `entry` (computed under `versions`) if it is a plain hit
    /// for this call: fresh, and with `refresh_ahead`, not yet due for a refresh.
    pub(crate) fn fresh_value<T: Cacheable>(&self, entry: &Value, versions: &[u64]) -> Option<T> {
        if self.refresh_ahead == 0.0 {
            return codec::decode(entry, versions);
        }
        let decoded = codec::decode_expired_too::<T>(entry, versions)?;
        let fresh = decoded.fresh_until.is_fresh() && !decoded.refresh_due(self.refresh_ahead);
        fresh.then_some(decoded.value)
    }
}
