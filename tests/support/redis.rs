//! Redis tests' caches: a redis-server of a test's own with a backend and a
//! cache on it ([`Setup`]), and one round trip through a cache's backend.

use std::time::Duration;

use cachetool::RedisBackend;
use cachetool_test_harness::redis::raw_connection;

/// A redis-server of a test's own, a backend on it and a cache with a fresh prefix.
#[allow(dead_code)]
pub(crate) type Setup = super::remote::Setup<RedisBackend>;

impl Setup {
    /// A plain client connection to this setup's server.
    #[allow(dead_code)]
    pub(crate) fn raw(&self) -> redis::Connection {
        raw_connection(&self.servers[0])
    }
}

/// Stores and reads one value through `cache`'s backend and returns the server stats.
#[allow(dead_code)]
pub(crate) fn round_trip(cache: &cachetool::Cache) -> cachetool::ServerStats {
    let key = format!("{}:entry:f:1", cache.prefix());
    let backend = cache.backend();
    backend
        .set(
            &key,
            b"value".to_vec().into(),
            Some(Duration::from_secs(60)),
        )
        .expect("set");
    let values = backend.get_many(&[&key]).expect("get");
    assert_eq!(
        values[0].as_ref().and_then(|value| value.as_bytes()),
        Some(&b"value"[..])
    );
    cache.server_stats().expect("server stats")
}
