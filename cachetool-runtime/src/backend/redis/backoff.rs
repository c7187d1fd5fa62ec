//! The pause after failed connection attempts to a Redis server, shared by
//! the blocking pool and the async connections of one backend.
//!
//! A server that silently drops connection attempts (a full accept queue, a
//! firewall, a host that is gone) costs each attempt the whole connect
//! timeout. So after an attempt fails, calls fail at once (and compute their
//! own values) for a pause of 250 ms, doubled by each further failure up to
//! 5 s, and jittered (between half and all of it) so that processes do not
//! come back in step. Once the pause is over, one caller at a time probes the
//! server; the others keep failing at once until the probe connects (then
//! everyone connects again) or fails (then a longer pause).
//!
//! While the server is healthy (no failure since the last good connect), any
//! number of callers may connect at once: the pool needs one connection per
//! busy thread.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The first pause after a failed connect.
const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Connect attempts and their failures, for one server (or one cluster).
#[derive(Default)]
pub(crate) struct Backoff {
    state: Mutex<State>,
    /// Every attempt made (admitted), for [`attempts`](Backoff::attempts).
    attempts: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Failed attempts in a row; 0 after a good connect.
    failures: u32,
    /// Until when calls fail at once (meaningful while `failures > 0`).
    paused_until: Option<Instant>,
    /// Whether a probe is in flight.
    probing: bool,
    /// Why the last attempt failed, for the errors of the calls that don't try.
    last_failure: String,
}

/// Leave to connect now. Say how it went with [`succeeded`](Attempt::succeeded)
/// or [`failed`](Attempt::failed); dropped unsaid (a cancelled task, a
/// panic), it changes nothing but lets the next caller probe.
pub(crate) struct Attempt<'a> {
    backoff: &'a Backoff,
    probe: bool,
}

/// Why a caller may not connect now.
#[derive(Debug)]
pub(crate) struct Paused {
    /// How long until the next probe may start (zero: a probe is in flight).
    pub(crate) left: Duration,
    /// Failed attempts in a row.
    pub(crate) failures: u32,
    /// Why the last one failed.
    pub(crate) last_failure: String,
}

impl Backoff {
    /// Leave to connect, unless the server failed recently (see the module docs).
    pub(crate) fn admit(&self) -> Result<Attempt<'_>, Paused> {
        let mut state = self.state.lock();
        let mut probe = false;
        if state.failures > 0 {
            let now = Instant::now();
            let left = state
                .paused_until
                .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
            if !left.is_zero() || state.probing {
                return Err(Paused {
                    left,
                    failures: state.failures,
                    last_failure: state.last_failure.clone(),
                });
            }
            state.probing = true;
            probe = true;
        }
        drop(state);
        self.attempts.fetch_add(1, Relaxed);
        Ok(Attempt {
            backoff: self,
            probe,
        })
    }

    /// Why not to wait for another caller's attempt, if connecting failed
    /// last time: callers then fail at once instead.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // The async side's.
    pub(crate) fn failing(&self) -> Option<Paused> {
        let state = self.state.lock();
        (state.failures > 0).then(|| Paused {
            left: state.paused_until.map_or(Duration::ZERO, |until| {
                until.saturating_duration_since(Instant::now())
            }),
            failures: state.failures,
            last_failure: state.last_failure.clone(),
        })
    }

    /// Connection attempts made so far, good or bad.
    pub(crate) fn attempts(&self) -> u64 {
        self.attempts.load(Relaxed)
    }
}

impl Attempt<'_> {
    /// The connection was made: everyone may connect again.
    pub(crate) fn succeeded(self) {
        let mut state = self.backoff.state.lock();
        state.failures = 0;
        state.paused_until = None;
        state.probing = false;
        state.last_failure.clear();
        drop(state);
        std::mem::forget(self);
    }

    /// The attempt failed because of `why`: pause, longer than last time if
    /// this was a probe. (An attempt begun while the server still looked
    /// healthy, failing after another one already did, changes nothing: a
    /// burst of callers meeting one outage is one failure.)
    pub(crate) fn failed(self, why: &dyn std::fmt::Display) {
        let mut state = self.backoff.state.lock();
        if self.probe || state.failures == 0 {
            state.failures = state.failures.saturating_add(1);
            let pause = jittered(pause_after(state.failures));
            state.paused_until = Instant::now().checked_add(pause);
            state.last_failure = why.to_string();
        }
        if self.probe {
            state.probing = false;
        }
        drop(state);
        std::mem::forget(self);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.probe {
            self.backoff.state.lock().probing = false;
        }
    }
}

/// The pause after `failures` failed attempts in a row: 250 ms doubling, at most 5 s.
fn pause_after(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_PAUSE.saturating_mul(1 << doublings).min(MAX_PAUSE)
}

/// Between half and all of `pause`.
fn jittered(pause: Duration) -> Duration {
    pause.mul_f64(0.5 + 0.5 * fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_from_250_ms_up_to_5_s() {
        let pauses: Vec<u128> = (1..=8).map(|n| pause_after(n).as_millis()).collect();
        assert_eq!(pauses, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(pause_after(u32::MAX), MAX_PAUSE);
        for _ in 0..1000 {
            let pause = jittered(Duration::from_millis(1000));
            assert!((500..=1000).contains(&pause.as_millis()), "{pause:?}");
        }
    }

    #[test]
    fn healthy_servers_admit_everyone_at_once() {
        let backoff = Backoff::default();
        let first = backoff.admit().unwrap();
        let second = backoff.admit().unwrap();
        second.succeeded();
        first.succeeded();
        assert_eq!(backoff.attempts(), 2);
        assert!(backoff.failing().is_none());
    }

    /// Fails `attempt` and checks the pause it set against the clock read
    /// around the call: between `min` and `max`.
    fn fail_and_check_pause(backoff: &Backoff, attempt: Attempt<'_>, min: Duration, max: Duration) {
        let before = Instant::now();
        attempt.failed(&"refused");
        let after = Instant::now();
        let until = backoff.state.lock().paused_until.expect("a pause");
        assert!(
            until >= before + min && until <= after + max,
            "{:?}",
            until - before
        );
    }

    /// Moves the end of the pause, instead of waiting for it.
    fn pause_ends_in(backoff: &Backoff, left: Duration) {
        backoff.state.lock().paused_until = Some(Instant::now() + left);
    }

    #[test]
    fn a_failure_pauses_everyone_then_admits_one_probe_at_a_time() {
        let backoff = Backoff::default();
        let attempt = backoff.admit().unwrap();
        fail_and_check_pause(&backoff, attempt, FIRST_PAUSE / 2, FIRST_PAUSE);
        assert_eq!(backoff.failing().map(|paused| paused.failures), Some(1));
        pause_ends_in(&backoff, Duration::from_secs(3600));
        let paused = backoff.admit().err().expect("paused");
        assert_eq!(
            (paused.failures, paused.last_failure.as_str()),
            (1, "refused")
        );
        assert!(paused.left > Duration::ZERO);

        pause_ends_in(&backoff, Duration::ZERO);
        let probe = backoff.admit().expect("the probe");
        let refused = backoff.admit().err().expect("one probe at a time");
        assert_eq!(refused.left, Duration::ZERO);
        fail_and_check_pause(&backoff, probe, FIRST_PAUSE, 2 * FIRST_PAUSE);
        assert_eq!(backoff.state.lock().failures, 2);

        pause_ends_in(&backoff, Duration::ZERO);
        backoff.admit().expect("the next probe").succeeded();
        assert!(backoff.failing().is_none());
        let (a, b) = (backoff.admit().unwrap(), backoff.admit().unwrap());
        drop((a, b));
        assert_eq!(backoff.attempts(), 5);
    }

    #[test]
    fn a_burst_failing_at_once_is_one_failure_and_a_dropped_probe_frees_the_next() {
        let backoff = Backoff::default();
        let attempts: Vec<_> = (0..8).map(|_| backoff.admit().unwrap()).collect();
        for attempt in attempts {
            attempt.failed(&"timed out");
        }
        assert_eq!(backoff.state.lock().failures, 1);

        pause_ends_in(&backoff, Duration::ZERO);
        drop(backoff.admit().expect("a probe, then cancelled"));
        backoff
            .admit()
            .expect("the cancelled probe let another probe")
            .failed(&"timed out");
        assert_eq!(backoff.state.lock().failures, 2);
    }
}
