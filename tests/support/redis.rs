//! Redis tests' caches: a server of a test's own with a backend and a cache
//! on it ([`Setup`]), and one round trip through a cache's backend.

use std::time::Duration;

use cachetool_test_harness::redis::raw_connection;
use cachetool_test_harness::{Kind, Server};

/// Stores and reads one value through `cache`'s backend and returns the server stats.
pub fn round_trip(cache: &cachetool::Cache) -> cachetool::ServerStats {
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

/// A server of one's own, a backend on it, and a cache with a fresh prefix:
/// what most Redis tests start from.
pub struct Setup {
    pub server: Server,
    pub backend: std::sync::Arc<cachetool::RedisBackend>,
    pub cache: cachetool::Cache,
}

impl Setup {
    /// A new redis-server and a cache on it, configured by `configure`.
    pub fn new(
        name: &str,
        configure: impl FnOnce(cachetool::CacheBuilder) -> cachetool::CacheBuilder,
    ) -> Setup {
        let server = Server::start(Kind::Redis);
        Setup::on(server, name, configure)
    }

    /// The same on a given server.
    pub fn on(
        server: Server,
        name: &str,
        configure: impl FnOnce(cachetool::CacheBuilder) -> cachetool::CacheBuilder,
    ) -> Setup {
        let backend = std::sync::Arc::new(
            cachetool::RedisBackend::open(&server.url(), &Default::default()).expect("open redis"),
        );
        let builder = cachetool::Cache::builder()
            .backend(backend.clone())
            .prefix(super::unique_prefix(name));
        let cache = configure(builder).build().expect("build a redis cache");
        Setup {
            server,
            backend,
            cache,
        }
    }

    /// A new redis-server whose cache is built from its URL (so it has its own
    /// backend and connections) with `timeout` for connecting and for each
    /// command: for tests that stop and restart the server.
    pub fn with_url_cache(name: &str, timeout: std::time::Duration) -> Setup {
        let server = Server::start(Kind::Redis);
        let url = server.url();
        let mut setup = Setup::on(server, name, |builder| builder);
        setup.cache = cachetool::Cache::builder()
            .redis(&url)
            .expect("a redis URL")
            .prefix(super::unique_prefix(name))
            .connect_timeout(timeout)
            .io_timeout(timeout)
            .build()
            .expect("build a redis cache");
        setup
    }

    /// A plain client connection to this setup's server.
    pub fn raw(&self) -> redis::Connection {
        raw_connection(&self.server)
    }

    /// `{prefix}:entry:{name}:{part}`: the entry key of `#[cached(name = ..., key = ...)]`.
    pub fn entry_key(&self, name: &str, part: &str) -> String {
        format!("{}:entry:{name}:{part}", self.cache.prefix())
    }

    /// Every key under this cache's prefix (KEYS: tests only).
    pub fn keys(&self) -> Vec<Vec<u8>> {
        let mut conn = self.raw();
        redis::cmd("KEYS")
            .arg(format!("{}:*", self.cache.prefix()))
            .query(&mut conn)
            .expect("KEYS")
    }
}
