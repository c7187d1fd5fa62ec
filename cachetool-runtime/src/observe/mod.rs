//! What a cache tells about itself: each function's counters
//! ([`Cache::stats_by_function`](crate::Cache::stats_by_function)), the
//! `metrics` crate's counters (feature `metrics`) and `tracing` spans and events.
//!
//! `call/` calls the hooks here at the points it decides things (a hit, a
//! miss, a body run, a backend failure, how a load ended), so that the
//! counting and reporting live in one place. A hit only adds to two striped
//! counters (and a metrics handle): no span, no event, no lock, no allocation.

mod functions;
#[cfg(feature = "metrics")]
mod metrics;
mod span;

use std::future::Future;
use std::time::Duration;

use tracing::Instrument as _;

pub(crate) use functions::Functions;
pub(crate) use span::{Outcome, OutcomeCell};

use crate::cache::Inner;
use crate::call::Request;
use crate::key::Site;
use crate::stats::Tally;
use crate::Error;
use functions::Function;

impl Inner {
    /// `site`'s counters in this cache (`None` past the table's capacity).
    #[inline]
    fn function(&self, site: &'static Site) -> Option<&Function> {
        (self.counters.functions).of(site, self.namespace.prefix())
    }

    /// Applies `count` to `site`'s tally, or to the cache's unlisted one.
    #[inline]
    fn tally(&self, site: &'static Site, count: impl FnOnce(&Tally)) -> Option<&Function> {
        match self.function(site) {
            Some(function) => {
                count(&function.tally);
                Some(function)
            }
            None => {
                count(&self.counters.unlisted);
                None
            }
        }
    }

    /// A call of `site` answered from the cache.
    #[inline]
    pub(crate) fn count_hit(&self, site: &'static Site) {
        let _function = self.tally(site, Tally::hit);
        #[cfg(feature = "metrics")]
        if let Some(function) = _function {
            function.metrics.hit();
        }
    }

    /// A call of `site` answered by the local tier in front of a remote backend.
    #[inline]
    pub(crate) fn count_local_hit(&self, site: &'static Site) {
        let _function = self.tally(site, Tally::local_hit);
        #[cfg(feature = "metrics")]
        if let Some(function) = _function {
            function.metrics.local_hit();
        }
    }

    /// A call of `site` that found no valid entry.
    pub(crate) fn count_miss(&self, site: &'static Site) {
        let _function = self.tally(site, Tally::miss);
        #[cfg(feature = "metrics")]
        if let Some(function) = _function {
            function.metrics.miss();
        }
    }
}

impl Request<'_> {
    /// Applies `count` to this function's tally, or to the cache's unlisted one.
    #[inline]
    fn tally(&self, count: impl FnOnce(&Tally)) -> Option<&Function> {
        self.inner().tally(self.site, count)
    }

    /// A call answered from the cache.
    #[inline]
    pub(crate) fn count_hit(&self) {
        // A recomputation in the background is no call: its lookups count nothing.
        if !self.background {
            self.inner().count_hit(self.site);
        }
    }

    /// A call answered by the local tier in front of a remote backend.
    pub(crate) fn count_local_hit(&self) {
        if !self.background {
            self.inner().count_local_hit(self.site);
        }
    }

    /// A call that found no valid entry.
    pub(crate) fn count_miss(&self) {
        if !self.background {
            self.inner().count_miss(self.site);
        }
    }

    /// A body that ran for `took` and returned an error if `failed`.
    pub(crate) fn count_load(&self, took: Duration, failed: bool) {
        let _function = self.tally(|tally| tally.load(took, failed));
        #[cfg(feature = "metrics")]
        if let Some(function) = _function {
            function.metrics.load(took, failed);
        }
        self.outcome.set(match failed {
            true => Outcome::Error,
            false => Outcome::Computed,
        });
    }

    /// A value not stored for its size.
    pub(crate) fn count_oversized(&self) {
        self.tally(Tally::oversized);
    }

    /// A call answered with an expired value by `fail_safe`; `failed`: its
    /// body ran and failed (the load was counted as returning that value).
    pub(crate) fn count_fail_safe(&self, failed: bool) {
        let _function = self.tally(|tally| {
            tally.fail_safe();
            if failed {
                tally.failed_behind_fail_safe();
            }
        });
        #[cfg(feature = "metrics")]
        if let Some(function) = _function {
            function.metrics.fail_safe(failed);
        }
        self.outcome.set(Outcome::FailSafe);
    }

    /// A call answered with a value due for a recomputation in the background.
    pub(crate) fn count_stale(&self) {
        let _function = self.tally(Tally::stale);
        #[cfg(feature = "metrics")]
        if let Some(function) = _function {
            function.metrics.stale();
        }
    }

    /// This call waits for another caller of this process computing its key.
    pub(crate) fn waiting(&self) {
        tracing::trace!("cachetool: waiting for another caller's computation of this key");
    }

    /// Notes how this call's load ended, where it is not by running the body.
    pub(crate) fn note(&self, outcome: Outcome) {
        self.outcome.set(outcome);
    }

    /// Counts and reports a failed backend operation; the caller carries on
    /// without it. The event names the server and the command (when the
    /// backend said them) and the key.
    pub(crate) fn backend_failed(&self, operation: &str, key: &str, error: &Error) {
        let _function = self.tally(Tally::error);
        #[cfg(feature = "metrics")]
        if let Some(function) = _function {
            function.metrics.backend_error();
        }
        let inner = self.inner();
        let failure = Failure {
            cache: inner.namespace.prefix(),
            backend: inner.backend.name(),
            operation,
            key,
            error,
        };
        failure.warn(Some(self.site.path()), "the function's own value is used");
    }

    /// Runs `load` (everything a call does after a miss, or a refresh) inside
    /// a `cachetool.load` span, which gets the load's outcome when it ends.
    pub(crate) async fn observed<F: Future>(&self, load: F) -> F::Output {
        let span = self.load_span();
        if span.is_disabled() {
            return load.await;
        }
        let output = load.instrument(span.clone()).await;
        span.record("outcome", self.outcome.get().as_str());
        output
    }

    /// [`observed`](Request::observed), for a load that runs in place.
    pub(crate) fn observed_now<R>(&self, load: impl FnOnce() -> R) -> R {
        let span = self.load_span();
        // No subscriber wants it: no entering, leaving or recording.
        if span.is_disabled() {
            return load();
        }
        let output = span.in_scope(load);
        span.record("outcome", self.outcome.get().as_str());
        output
    }

    fn load_span(&self) -> tracing::Span {
        let inner = self.inner();
        tracing::debug_span!(
            "cachetool.load",
            cache = inner.namespace.prefix(),
            function = self.site.path(),
            key_hash = %span::KeyHash { call: self.call },
            backend = inner.backend.name(),
            outcome = tracing::field::Empty,
        )
    }
}

/// Reports an error that an invalidation or a clean returns to its caller
/// (which is not counted: the caller gets the error).
pub(crate) fn returned_error(cache: &crate::Cache, operation: &str, key: &str, error: &Error) {
    let failure = Failure {
        cache: cache.prefix(),
        backend: cache.inner.backend.name(),
        operation,
        key,
        error,
    };
    failure.warn(None, "the error is returned to the caller");
}

/// A backend operation that failed, as its warning names it.
struct Failure<'a> {
    cache: &'a str,
    backend: &'a str,
    operation: &'a str,
    key: &'a str,
    error: &'a Error,
}

impl Failure<'_> {
    /// One warning event: the server and command the backend named (else the
    /// backend and our operation), the function if a call failed, and what
    /// became of the failure (`then`).
    fn warn(&self, function: Option<&str>, then: &str) {
        let (backend, operation, error) = (self.backend, self.operation, self.error);
        tracing::warn!(
            cache = self.cache,
            function,
            backend,
            server = error.server().unwrap_or(backend),
            command = error.command().unwrap_or(operation),
            operation,
            key = self.key,
            %error,
            "cachetool: backend operation failed; {then}"
        );
    }
}
