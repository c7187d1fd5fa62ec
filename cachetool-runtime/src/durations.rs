//! User durations made safe to add to a clock: every `Duration` the API
//! accepts works, `Duration::MAX` included, and no arithmetic on one panics
//! or wraps.

use std::time::{Duration, Instant};

/// A TTL or timeout this long is "never": a TTL at least this long is stored
/// without expiry, and a timeout is cut to it. A hundred years, so that every
/// clock and every server can add it to now.
pub(crate) const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `ttl`, or `None` (no expiry) if it is [`FOREVER`] or longer.
#[inline]
pub(crate) fn finite_ttl(ttl: Option<Duration>) -> Option<Duration> {
    ttl.filter(|ttl| *ttl < FOREVER)
}

/// `timeout` cut to [`FOREVER`].
pub(crate) fn bounded(timeout: Duration) -> Duration {
    timeout.min(FOREVER)
}

/// `now + after`, saturating at [`FOREVER`] from now (at `now` itself on a
/// clock that cannot even count that far, which no supported platform is).
pub(crate) fn deadline_after(now: Instant, after: Duration) -> Instant {
    now.checked_add(bounded(after)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_durations_never_overflow() {
        let now = Instant::now();
        assert_eq!(finite_ttl(Some(Duration::MAX)), None);
        assert_eq!(finite_ttl(Some(FOREVER)), None);
        let year = Duration::from_secs(365 * 24 * 3600);
        assert_eq!(finite_ttl(Some(year)), Some(year));
        assert_eq!(finite_ttl(None), None);
        assert_eq!(deadline_after(now, Duration::MAX), now + FOREVER);
        assert_eq!(deadline_after(now, year), now + year);
        assert_eq!(bounded(Duration::MAX), FOREVER);
    }
}
