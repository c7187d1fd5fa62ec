//! How long a stored entry lives: `ttl = <closure over the value>` and
//! `jitter = <fraction>`.
//!
//! The macro builds the closure with [`ttl_value`] or [`ttl_ok`], which name
//! the value's type from the function's return type (so the closure's
//! argument needs no annotation) and take it as a `fn` pointer: a closure
//! that captures an argument is a compile error at that argument, rather
//! than a borrow that an `async move` body would fight. The request keeps it
//! type-erased ([`EntryTtl`]) and asks it when it stores (`store.rs`,
//! `local.rs`), as it asks `unless` (`unless.rs`).

use std::any::Any;
use std::marker::PhantomData;
use std::time::Duration;

use super::Request;
use crate::durations::finite_ttl;

/// A TTL computed from a value of any type.
pub trait EntryTtl {
    /// The TTL of `value` (`None` for a value of another type, which the
    /// macro never hands over).
    fn ttl_of(&self, value: &dyn Any) -> Option<Duration>;
}

/// The closure of `ttl = |value| ...`, for values of type `T`.
pub struct TtlOf<T> {
    ttl: fn(&T) -> Duration,
}

impl<T: 'static> EntryTtl for TtlOf<T> {
    fn ttl_of(&self, value: &dyn Any) -> Option<Duration> {
        value.downcast_ref::<T>().map(self.ttl)
    }
}

/// `ttl = |value| ...` of a function returning `R`: the closure sees an `&R`.
pub fn ttl_value<R>(_returns: PhantomData<R>, ttl: fn(&R) -> Duration) -> TtlOf<R> {
    TtlOf { ttl }
}

/// `ttl = |value| ...` of a function returning `Result<T, E>`: the closure
/// sees the `&T` of an `Ok` (an `Err` is never stored).
pub fn ttl_ok<T, E>(_returns: PhantomData<Result<T, E>>, ttl: fn(&T) -> Duration) -> TtlOf<T> {
    TtlOf { ttl }
}

impl<'c> Request<'c> {
    /// Each stored value's TTL is what `ttl` says of it.
    pub fn ttl_of(mut self, ttl: &'c (dyn EntryTtl + Sync)) -> Request<'c> {
        self.ttl_of = Some(ttl);
        self
    }

    /// Each stored entry's TTL is drawn uniformly within `fraction` of it,
    /// either way (`0.1`: from 90% to 110%). The macro checked `0 < fraction < 1`.
    pub fn jitter(mut self, fraction: f32) -> Request<'c> {
        self.jitter = fraction;
        self
    }

    /// The TTL to store `value` with: `None` for no expiry, `Some(ZERO)` for
    /// "don't store". The closure's if there is one, else the function's or
    /// the cache's; then jittered.
    pub(crate) fn entry_ttl(&self, value: &dyn Any) -> Option<Duration> {
        let ttl = match self.ttl_of {
            Some(closure) => finite_ttl(closure.ttl_of(value)),
            None => self.ttl,
        };
        match self.jitter {
            // No draw from the thread's generator for the functions without jitter.
            0.0 => ttl,
            jitter => ttl.map(|ttl| jittered(ttl, f64::from(jitter), fastrand::f64())),
        }
    }

    /// How long an entry is kept after it stops being fresh, for the reads
    /// that want an expired value (`stale`, `fail_safe`): the longer.
    pub(crate) fn keep_expired(&self) -> Duration {
        let fail_safe = self.fail_safe.get().unwrap_or(Duration::ZERO);
        fail_safe.max(self.stale.get().unwrap_or(Duration::ZERO))
    }
}

/// An optional period in 8 bytes, where `Option<Duration>` takes 16: whole
/// nanoseconds (up to 584 years, saturating), 0 for none. (The request lives
/// in every level of a recursion of cached async fns: its bytes count.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window(u64);

impl Window {
    pub(crate) const NONE: Window = Window(0);

    /// `period`; zero is none (a window of zero serves nothing).
    pub(crate) fn new(period: Duration) -> Window {
        Window(u64::try_from(period.as_nanos()).unwrap_or(u64::MAX))
    }

    pub(crate) fn get(self) -> Option<Duration> {
        (self.0 != 0).then(|| Duration::from_nanos(self.0))
    }
}

/// How long a backend keeps an entry that is fresh for `fresh`: that, plus
/// `keep_expired` (`None`, no expiry, stays `None`).
pub(crate) fn kept_for(fresh: Option<Duration>, keep_expired: Duration) -> Option<Duration> {
    finite_ttl(fresh.map(|fresh| fresh.saturating_add(keep_expired)))
}

/// `ttl` scaled by `1 + fraction * (2 * draw - 1)`, `draw` in `[0, 1)`: within
/// `fraction` of `ttl` either way. Zero stays zero ("don't store"); nothing
/// else becomes zero.
fn jittered(ttl: Duration, fraction: f64, draw: f64) -> Duration {
    if fraction <= 0.0 || ttl.is_zero() {
        return ttl;
    }
    let factor = 1.0 + fraction * (2.0 * draw - 1.0);
    // `ttl` is finite (a century at most) and `factor` below 2: no overflow.
    ttl.mul_f64(factor).max(Duration::from_nanos(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closure_sees_the_value_or_the_ok_value() {
        let secs = ttl_value(PhantomData::<u64>, |value| Duration::from_secs(*value));
        assert_eq!(secs.ttl_of(&5u64), Some(Duration::from_secs(5)));
        let ok = ttl_ok(PhantomData::<Result<u64, String>>, |value| {
            Duration::from_millis(*value)
        });
        assert_eq!(ok.ttl_of(&7u64), Some(Duration::from_millis(7)));
        assert_eq!(ok.ttl_of(&7u32), None, "another type has no TTL");
    }

    #[test]
    fn an_entry_is_kept_for_its_ttl_and_then_as_long_as_it_is_wanted_expired() {
        let minute = Duration::from_secs(60);
        assert_eq!(kept_for(Some(minute), Duration::ZERO), Some(minute));
        assert_eq!(kept_for(Some(minute), minute), Some(2 * minute));
        assert_eq!(kept_for(None, minute), None);
        assert_eq!(
            kept_for(Some(minute), Duration::MAX),
            None,
            "saturates to forever"
        );
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let ttl = Duration::from_secs(100);
        assert_eq!(jittered(ttl, 0.1, 0.0), Duration::from_secs(90));
        assert_eq!(jittered(ttl, 0.1, 0.5), ttl);
        let top = jittered(ttl, 0.1, 1.0 - f64::EPSILON);
        assert!(top <= Duration::from_secs(110) && top > Duration::from_secs(109));
        assert_eq!(jittered(ttl, 0.0, 0.9), ttl, "no jitter");
        assert_eq!(jittered(Duration::ZERO, 0.5, 0.0), Duration::ZERO);
        assert_eq!(
            jittered(Duration::from_nanos(1), 0.9, 0.0),
            Duration::from_nanos(1),
            "a TTL never jitters to zero, which would mean `don't store`"
        );
    }
}
