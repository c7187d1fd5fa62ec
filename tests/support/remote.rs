//! A Redis or Memcached backend on servers of a test's own, so that a test of
//! what both backends promise (faults, round trips, keys) is written once.
//!
//! [`for_each_remote_backend!`](super::for_each_remote_backend) instantiates
//! a test in modules `redis` and `memcached`, each with `type Remote` naming
//! its backend type. The test starts `Setup::<Remote>::new(..)` (servers, a
//! backend on them, a cache with a fresh prefix), stops and restarts its
//! servers, counts round trips, and reads and writes keys raw through
//! [`Client`]. Where the backends really differ (a command's name, the
//! server's command counters, what a hit costs on the server), the
//! [`RemoteBackend`] hooks say it, and `Remote::pick(redis, memcached)` picks
//! an expected value.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cachetool::{Backend, Cache, CacheBuilder, ConnectOptions};
use cachetool_test_harness::{Client, Kind, Server};

use super::unique_prefix;

/// How many times each command ran, as the servers count them.
#[allow(dead_code)]
pub(crate) type Counts = BTreeMap<String, u64>;

/// What differs between the remote backends, for the tests of both.
#[allow(dead_code)]
pub(crate) trait RemoteBackend: Backend + Sized + 'static {
    /// The server it talks to.
    const SERVER: Kind;
    /// The name of its read command in its error messages.
    const READ_COMMAND: &'static str;
    /// The longest key it stores as it is.
    const MAX_KEY_LEN: usize;

    /// `redis` on Redis, `memcached` on Memcached: what a test expects
    /// where the backends differ.
    fn pick<T>(redis: T, memcached: T) -> T;

    /// A backend on `url`.
    fn open_url(url: &str, options: &ConnectOptions) -> Self;

    /// The URL of the servers at `addresses` (`127.0.0.1:port`).
    fn url(addresses: &[impl AsRef<str>]) -> String;

    /// The backend's own count of its round trips.
    fn round_trips(&self) -> u64;

    /// The command counters of `servers`, summed (`INFO commandstats`, or
    /// memcached's `stats`).
    fn counts(servers: &[Server]) -> Counts;

    /// The commands that ran between two [`counts`](Self::counts), without
    /// the requests that took the counts.
    fn delta(before: &Counts, after: &Counts) -> Counts;

    /// How many servers hold `keys`: the round trips of one read of them all.
    fn servers_holding(&self, keys: &[String]) -> u64;
}

#[cfg(feature = "redis")]
impl RemoteBackend for cachetool::RedisBackend {
    const SERVER: Kind = Kind::Redis;
    const READ_COMMAND: &'static str = "MGET";
    const MAX_KEY_LEN: usize = cachetool::RedisBackend::MAX_KEY_LEN;

    fn pick<T>(redis: T, _: T) -> T {
        redis
    }

    fn open_url(url: &str, options: &ConnectOptions) -> Self {
        cachetool::RedisBackend::open(url, options).expect("open redis")
    }

    fn url(addresses: &[impl AsRef<str>]) -> String {
        let [address] = addresses else {
            panic!("one redis-server at a time (a cluster is `cluster::Cluster`)")
        };
        format!("redis://{}/", address.as_ref())
    }

    fn round_trips(&self) -> u64 {
        cachetool::RedisBackend::round_trips(self)
    }

    fn counts(servers: &[Server]) -> Counts {
        use cachetool_test_harness::redis::{command_stats, raw_connection};
        let mut total = Counts::new();
        for server in servers {
            for (name, calls) in command_stats(&mut raw_connection(server)) {
                *total.entry(name).or_insert(0) += calls;
            }
        }
        total
    }

    fn delta(before: &Counts, after: &Counts) -> Counts {
        cachetool_test_harness::redis::delta(before, after)
    }

    fn servers_holding(&self, _: &[String]) -> u64 {
        1
    }
}

#[cfg(feature = "memcached")]
impl RemoteBackend for cachetool::MemcachedBackend {
    const SERVER: Kind = Kind::Memcached;
    const READ_COMMAND: &'static str = "gets";
    const MAX_KEY_LEN: usize = 250;

    fn pick<T>(_: T, memcached: T) -> T {
        memcached
    }

    fn open_url(url: &str, options: &ConnectOptions) -> Self {
        cachetool::MemcachedBackend::open(url, options).expect("open memcached")
    }

    fn url(addresses: &[impl AsRef<str>]) -> String {
        let addresses: Vec<&str> = addresses.iter().map(AsRef::as_ref).collect();
        format!("memcache://{}", addresses.join(","))
    }

    fn round_trips(&self) -> u64 {
        cachetool::MemcachedBackend::round_trips(self)
    }

    fn counts(servers: &[Server]) -> Counts {
        let addresses: Vec<String> = servers.iter().map(Server::address).collect();
        cachetool_test_harness::memcached::stats_of(&addresses)
    }

    fn delta(before: &Counts, after: &Counts) -> Counts {
        cachetool_test_harness::memcached::delta(before, after)
    }

    fn servers_holding(&self, keys: &[String]) -> u64 {
        let servers: std::collections::BTreeSet<&str> =
            keys.iter().map(|key| self.server_of(key)).collect();
        servers.len() as u64
    }
}

/// Servers of a test's own, a backend on them and a cache with a fresh prefix.
#[allow(dead_code)]
pub(crate) struct Setup<B> {
    pub(crate) servers: Vec<Server>,
    pub(crate) backend: Arc<B>,
    pub(crate) cache: Cache,
}

#[allow(dead_code)]
impl<B: RemoteBackend> Setup<B> {
    /// A new server and a cache on it, configured by `configure`.
    pub(crate) fn new(name: &str, configure: impl FnOnce(CacheBuilder) -> CacheBuilder) -> Self {
        Setup::with_servers(name, 1, &[], configure)
    }

    /// `count` new servers started with `args`, and a cache on them all.
    pub(crate) fn with_servers(
        name: &str,
        count: usize,
        args: &[&str],
        configure: impl FnOnce(CacheBuilder) -> CacheBuilder,
    ) -> Self {
        let servers = (0..count)
            .map(|_| Server::start_with(B::SERVER, args))
            .collect();
        Setup::on(servers, name, configure)
    }

    /// A cache on `servers`, already started.
    pub(crate) fn on(
        servers: Vec<Server>,
        name: &str,
        configure: impl FnOnce(CacheBuilder) -> CacheBuilder,
    ) -> Self {
        let addresses: Vec<String> = servers.iter().map(Server::address).collect();
        Setup::on_url(servers, &B::url(&addresses), name, configure)
    }

    /// A cache on `url` (with options of its own), whose `servers` are started.
    pub(crate) fn on_url(
        servers: Vec<Server>,
        url: &str,
        name: &str,
        configure: impl FnOnce(CacheBuilder) -> CacheBuilder,
    ) -> Self {
        let backend = Arc::new(B::open_url(url, &ConnectOptions::default()));
        let builder = Cache::builder()
            .backend(backend.clone())
            .prefix(unique_prefix(name));
        let cache = configure(builder).build().expect("build a test cache");
        Setup {
            servers,
            backend,
            cache,
        }
    }

    /// A new server whose cache is built from its URL (so it has its own
    /// backend and connections) with `timeout` for connecting and for each
    /// command: for tests that stop and restart the server.
    pub(crate) fn with_url_cache(name: &str, timeout: Duration) -> Self {
        let mut setup = Setup::new(name, |builder| builder);
        setup.cache = Cache::builder()
            .url(&B::url(&setup.addresses()))
            .expect("a test server's URL")
            .prefix(unique_prefix(name))
            .connect_timeout(timeout)
            .io_timeout(timeout)
            .build()
            .expect("build a test cache");
        setup
    }

    /// The first server, the only one of most tests.
    pub(crate) fn server(&mut self) -> &mut Server {
        &mut self.servers[0]
    }

    /// `127.0.0.1:port` of each server.
    pub(crate) fn addresses(&self) -> Vec<String> {
        self.servers.iter().map(Server::address).collect()
    }

    /// A raw client of the first server.
    pub(crate) fn client(&self) -> Client {
        self.servers[0].client()
    }

    /// `{prefix}:entry:{name}:{part}`: the entry key of `#[cached(name = ..., key = ...)]`.
    pub(crate) fn entry_key(&self, name: &str, part: &str) -> String {
        format!("{}:entry:{name}:{part}", self.cache.prefix())
    }

    /// Every key under this cache's prefix, on every server, as stored.
    pub(crate) fn keys(&self) -> Vec<Vec<u8>> {
        let prefix = self.cache.prefix().as_bytes();
        self.servers
            .iter()
            .flat_map(|server| server.client().keys())
            .filter(|key| key.starts_with(prefix))
            .collect()
    }

    /// The keys of [`keys`](Self::keys) that hold `part` (`b":lock:"`...).
    pub(crate) fn keys_with(&self, part: &[u8]) -> Vec<Vec<u8>> {
        let mut keys = self.keys();
        keys.retain(|key| key.windows(part.len()).any(|window| window == part));
        keys
    }

    /// The servers' command counters, summed.
    pub(crate) fn counts(&self) -> Counts {
        B::counts(&self.servers)
    }

    /// The commands that ran since `before` (a [`counts`](Self::counts)),
    /// without the requests that took the counts.
    pub(crate) fn delta_since(&self, before: &Counts) -> Counts {
        B::delta(before, &self.counts())
    }
}

/// `cost!(setup, operation)`: runs the operation (an expression, which may
/// `.await`) and gives its output with the backend round trips and the
/// server commands (a [`Counts`]) it cost.
#[allow(unused_macros)]
macro_rules! cost {
    ($setup:expr, $operation:expr) => {{
        let setup = $setup;
        let before = setup.counts();
        let trips = $crate::support::remote::RemoteBackend::round_trips(&*setup.backend);
        let output = $operation;
        let trips = $crate::support::remote::RemoteBackend::round_trips(&*setup.backend) - trips;
        (output, trips, setup.delta_since(&before))
    }};
}

#[allow(unused_imports)]
pub(crate) use cost;

/// A counts map from pairs, for comparisons.
#[allow(dead_code)]
pub(crate) fn counts(pairs: &[(&str, u64)]) -> Counts {
    pairs
        .iter()
        .map(|(name, count)| (name.to_string(), *count))
        .collect()
}
