//! Memcached tests' caches: servers of a test's own with a backend and a
//! cache on them ([`Setup`]), and what an operation cost on them.

use std::collections::BTreeMap;
use std::sync::Arc;

use cachetool::{Cache, CacheBuilder, ConnectOptions, MemcachedBackend};
use cachetool_test_harness::memcached::{delta, stats_of};
use cachetool_test_harness::{Kind, Server};

use super::unique_prefix;

/// Servers of a test's own, a backend on them and a cache with a fresh prefix.
pub struct Setup {
    pub servers: Vec<Server>,
    pub backend: Arc<MemcachedBackend>,
    pub cache: Cache,
}

impl Setup {
    /// `count` memcached servers started with `args`.
    pub fn new(
        name: &str,
        count: usize,
        args: &[&str],
        configure: impl FnOnce(CacheBuilder) -> CacheBuilder,
    ) -> Setup {
        let servers: Vec<Server> = (0..count)
            .map(|_| Server::start_with(Kind::Memcached, args))
            .collect();
        let url = format!(
            "memcache://{}",
            servers
                .iter()
                .map(Server::address)
                .collect::<Vec<_>>()
                .join(",")
        );
        Setup::on(servers, &url, name, configure)
    }

    /// A backend on `url` (servers already started).
    pub fn on(
        servers: Vec<Server>,
        url: &str,
        name: &str,
        configure: impl FnOnce(CacheBuilder) -> CacheBuilder,
    ) -> Setup {
        let options = ConnectOptions::default();
        let backend = Arc::new(MemcachedBackend::open(url, &options).expect("open memcached"));
        let builder = Cache::builder()
            .backend(backend.clone())
            .prefix(unique_prefix(name));
        let cache = configure(builder).build().expect("build a memcached cache");
        Setup {
            servers,
            backend,
            cache,
        }
    }

    pub fn addresses(&self) -> Vec<String> {
        self.servers.iter().map(Server::address).collect()
    }

    /// Summed `stats` of all servers.
    pub fn stats(&self) -> BTreeMap<String, u64> {
        stats_of(&self.addresses())
    }

    /// Runs `f` and returns the backend round trips and the servers' command counters it cost.
    pub fn cost<T>(&self, f: impl FnOnce() -> T) -> (T, u64, BTreeMap<String, u64>) {
        let before = self.stats();
        let trips = self.backend.round_trips();
        let value = f();
        let trips = self.backend.round_trips() - trips;
        let after = self.stats();
        (value, trips, delta(&before, &after))
    }
}
