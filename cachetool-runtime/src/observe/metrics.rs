//! The `metrics` crate's counters and histogram of each function (feature
//! `metrics`): registered once per function and cache, so that a call only
//! adds to a handle.
//!
//! Handles belong to the recorder installed when the function is first
//! called through the cache: install the recorder before that.

use std::sync::Once;
use std::time::Duration;

use metrics::{Counter, Histogram, SharedString, Unit};

pub(crate) const HITS: &str = "cachetool_hits_total";
pub(crate) const MISSES: &str = "cachetool_misses_total";
pub(crate) const LOADS: &str = "cachetool_loads_total";
pub(crate) const LOAD_ERRORS: &str = "cachetool_load_errors_total";
pub(crate) const BACKEND_ERRORS: &str = "cachetool_backend_errors_total";
pub(crate) const FAIL_SAFE: &str = "cachetool_fail_safe_total";
pub(crate) const STALE: &str = "cachetool_stale_total";
pub(crate) const LOCAL_HITS: &str = "cachetool_local_hits_total";
pub(crate) const LOAD_SECONDS: &str = "cachetool_load_seconds";

/// One function's handles in one cache.
pub(crate) struct FunctionMetrics {
    hits: Counter,
    misses: Counter,
    loads: Counter,
    load_errors: Counter,
    backend_errors: Counter,
    fail_safe: Counter,
    stale: Counter,
    local_hits: Counter,
    load_seconds: Histogram,
}

impl FunctionMetrics {
    /// Registers the function `function` of the cache of prefix `cache`.
    pub(crate) fn register(function: &'static str, cache: &str) -> FunctionMetrics {
        describe();
        let cache = SharedString::from(cache.to_owned());
        let labels = || {
            [
                ("function", SharedString::from(function)),
                ("cache", cache.clone()),
            ]
        };
        FunctionMetrics {
            hits: metrics::counter!(HITS, &labels()),
            misses: metrics::counter!(MISSES, &labels()),
            loads: metrics::counter!(LOADS, &labels()),
            load_errors: metrics::counter!(LOAD_ERRORS, &labels()),
            backend_errors: metrics::counter!(BACKEND_ERRORS, &labels()),
            fail_safe: metrics::counter!(FAIL_SAFE, &labels()),
            stale: metrics::counter!(STALE, &labels()),
            local_hits: metrics::counter!(LOCAL_HITS, &labels()),
            load_seconds: metrics::histogram!(LOAD_SECONDS, &labels()),
        }
    }

    pub(crate) fn hit(&self) {
        self.hits.increment(1);
    }

    pub(crate) fn miss(&self) {
        self.misses.increment(1);
    }

    pub(crate) fn load(&self, took: Duration, failed: bool) {
        self.loads.increment(1);
        if failed {
            self.load_errors.increment(1);
        }
        self.load_seconds.record(took.as_secs_f64());
    }

    pub(crate) fn backend_error(&self) {
        self.backend_errors.increment(1);
    }

    /// See [`Request::count_fail_safe`](crate::call::Request).
    pub(crate) fn fail_safe(&self, failed: bool) {
        self.fail_safe.increment(1);
        if failed {
            self.load_errors.increment(1);
        }
    }

    /// See [`Request::count_stale`](crate::call::Request).
    pub(crate) fn stale(&self) {
        self.stale.increment(1);
    }

    /// A hit in the local tier in front of a remote backend (and a hit).
    pub(crate) fn local_hit(&self) {
        self.hits.increment(1);
        self.local_hits.increment(1);
    }
}

/// Describes the metrics to the recorder, once per process.
fn describe() {
    static DESCRIBED: Once = Once::new();
    DESCRIBED.call_once(|| {
        metrics::describe_counter!(HITS, "Calls answered from the cache.");
        metrics::describe_counter!(MISSES, "Calls that found no valid entry.");
        metrics::describe_counter!(LOADS, "Times a cached function's body ran.");
        metrics::describe_counter!(LOAD_ERRORS, "Bodies that returned an error (never stored).");
        metrics::describe_counter!(
            BACKEND_ERRORS,
            "Backend operations that failed; the caller still got its function's value."
        );
        metrics::describe_counter!(
            FAIL_SAFE,
            "Times fail_safe answered with an expired value: a failed body, or a call during the throttle after one."
        );
        metrics::describe_counter!(
            STALE,
            "Calls answered with a value due for a recomputation in the background (stale, refresh_ahead)."
        );
        metrics::describe_counter!(
            LOCAL_HITS,
            "Hits answered by the local tier in front of Redis or Memcached, with no round trip (counted among the hits too)."
        );
        metrics::describe_histogram!(LOAD_SECONDS, Unit::Seconds, "Time spent running a body.");
    });
}
