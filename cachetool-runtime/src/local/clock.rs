//! The local tier's clock: when an entry expires, and what time it is now,
//! read on every hit of an entry with a TTL. It also times the bodies of
//! misses (`stats().load_time`), twice a miss.
//!
//! It is quanta's clock, not std's `Instant`, and read raw: the CPU's
//! time-stamp counter, in its own ticks, which quanta calibrates against the
//! OS clock once, in well under a millisecond, the first time it is used
//! (and replaces by the OS clock's nanoseconds where the counter is not
//! reliable). On this project's 2-core VM a raw read took 24 ns, quanta's
//! scaled `now()` with the conversion to nanoseconds 32 ns, and
//! `Instant::now` (the vDSO's `clock_gettime`) 57 ns: a fifth of an untagged
//! hit. So times are kept in ticks, and only a TTL (when an entry is stored)
//! and a duration (a miss's load time, how long ago an entry expired) are
//! converted.
//!
//! A time is a `u64` of ticks (centuries at a few GHz), so that a header
//! keeps its expiry in 8 bytes.
//!
//! The calibration is quanta's, once a process: under load it was seen off by
//! up to a few tens of parts per million against the OS clock (tens of
//! microseconds of a 2 s TTL). An entry may so expire that much early or late
//! by the OS clock; the scaled reading we used before had the same error.

use std::sync::LazyLock;
use std::time::Duration;

use quanta::Clock;

/// The expiry of an entry that never expires.
pub(crate) const NEVER: u64 = u64::MAX;

/// The clock and its ticks per nanosecond.
struct Ticks {
    clock: Clock,
    per_nanosecond: f64,
}

static CLOCK: LazyLock<Ticks> = LazyLock::new(|| {
    let clock = Clock::new();
    // The calibration's ratio, read back over a span long enough that its
    // rounding is below a part in a billion.
    let span = 1u64 << 40;
    let nanos = clock.delta_as_nanos(0, span).max(1);
    Ticks {
        per_nanosecond: span as f64 / nanos as f64,
        clock,
    }
});

/// The time now, in ticks.
#[inline]
pub(crate) fn now() -> u64 {
    CLOCK.clock.raw()
}

/// How long since `started` (a [`now`]): what the body of a miss took.
#[inline]
pub(crate) fn since(started: u64) -> Duration {
    between(started, now())
}

/// The time from `earlier` to `later` (zero if `later` is not later).
pub(crate) fn between(earlier: u64, later: u64) -> Duration {
    Duration::from_nanos(CLOCK.clock.delta_as_nanos(earlier, later))
}

/// The time `ttl` from now, or [`NEVER`] for a TTL past what a `u64` of
/// nanoseconds holds (584 years) or a time past what a `u64` of ticks holds.
pub(crate) fn after(ttl: Duration) -> u64 {
    let Ok(nanos) = u64::try_from(ttl.as_nanos()) else {
        return NEVER;
    };
    // `as` saturates; a counter slower than a tick a nanosecond (ARM's
    // generic timer, at tens of MHz) makes fewer ticks than nanoseconds.
    let ticks = (nanos as f64 * CLOCK.per_nanosecond) as u64;
    now().checked_add(ticks).unwrap_or(NEVER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_moves_forward_and_saturates_at_never() {
        let (first, second) = (now(), now());
        assert!(second >= first);
        let later = after(Duration::from_secs(5));
        assert!(later > second && later != NEVER);
        let five = between(second, later);
        assert!(
            five >= Duration::from_millis(4_999) && five <= Duration::from_millis(5_001),
            "5 s in ticks and back: {five:?}"
        );
        assert_eq!(after(Duration::MAX), NEVER);
        let past_a_u64 = Duration::from_nanos(u64::MAX) + Duration::from_nanos(1);
        assert_eq!(after(past_a_u64), NEVER);
        let centuries = after(Duration::from_nanos(u64::MAX));
        assert!(
            centuries > later,
            "a TTL of 584 years ends after one of 5 s"
        );
        assert_eq!(between(later, second), Duration::ZERO);
    }

    #[test]
    fn a_tick_span_measures_the_time_slept() {
        let started = now();
        std::thread::sleep(Duration::from_millis(20));
        // A lower bound only: a loaded machine may sleep longer.
        assert!(since(started) >= Duration::from_millis(19));
    }
}
