//! Caches with a local tier in front of a remote backend (two-level
//! caching), for `two_level.rs` and `two_level_processes.rs`.

use std::time::{Duration, Instant};

use cachetool::Cache;

/// The bound of a tier without a channel.
pub(crate) const LOCAL_TTL: Duration = Duration::from_secs(2);
/// How long a test waits for what it expects before it fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// Where the remote entries are, and what tells the local tiers of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)]
pub(crate) enum Config {
    Redis,
    Cluster,
    /// Memcached, its changes announced on a Redis backplane.
    MemcachedBackplane,
    /// Memcached with no channel: `local_ttl` bounds staleness.
    MemcachedTtl,
}

#[allow(dead_code)]
impl Config {
    /// A cache of `prefix` on `url` (Redis, the cluster or Memcached, as
    /// the configuration says) with a local tier of its own backend;
    /// `backplane`: a Redis URL, for `MemcachedBackplane`. Built from the
    /// URL's `?local=` parameters if `by_url` (and the configuration has
    /// no backplane, which no URL names).
    pub(crate) fn cache(self, url: &str, backplane: &str, prefix: &str, by_url: bool) -> Cache {
        let params = match self {
            Config::Redis | Config::Cluster => "?local=1000".to_owned(),
            Config::MemcachedBackplane => String::new(),
            Config::MemcachedTtl => format!("?local=1000&local_ttl={}", LOCAL_TTL.as_secs()),
        };
        let builder = match (by_url && !params.is_empty(), self) {
            (true, _) => Cache::builder().url(&format!("{url}{params}")),
            (false, Config::MemcachedBackplane) => Cache::builder()
                .url(url)
                .and_then(|builder| builder.backplane(backplane)),
            (false, Config::MemcachedTtl) => Cache::builder()
                .url(url)
                .map(|builder| builder.local_ttl(LOCAL_TTL)),
            (false, _) => Cache::builder().url(url),
        };
        let builder = builder.expect("a test server's URL");
        // By URL, the tier is the URL's doing alone.
        let builder = match by_url && !params.is_empty() {
            true => builder,
            false => builder.local(1000),
        };
        let cache = builder
            .prefix(prefix)
            .build()
            .expect("build a two-level cache");
        assert!(
            cache.__local_tier_listening().is_some(),
            "{self:?}: a local tier"
        );
        cache
    }

    pub(crate) fn has_channel(self) -> bool {
        self != Config::MemcachedTtl
    }
}

/// Calls `get` (a call on `cache`) until one call is a local hit, and gives
/// its value. (A first hit may wait for the channel to be up, and for the
/// message of the store before it, which drops the copy once.)
#[allow(dead_code)]
pub(crate) fn warm(cache: &Cache, mut get: impl FnMut() -> u64) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let before = cache.stats().local_hits;
        let value = get();
        if cache.stats().local_hits > before {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "no local hit within {PATIENCE:?}"
        );
        // Polling an observable event (a local hit): nothing else to wait on.
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A runtime for a test's async calls (`mode` "async"), or none.
#[allow(dead_code)]
pub(crate) fn runtime_for(mode: &str) -> Option<tokio::runtime::Runtime> {
    (mode == "async").then(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}
