//! Memcached-only test helpers: raw requests, `stats` deltas, and a backend
//! on servers of its own.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachetool::{Cache, CacheBuilder, ConnectOptions, MemcachedBackend};

use super::server::{Kind, Server};
use super::unique_prefix;

/// Sends `request` to `address` and reads until the answer ends with one of `ends`.
pub fn request(address: &str, request: &[u8], ends: &[&[u8]]) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).expect("connect to the test memcached");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut chunk = [0u8; 1 << 16];
    while !ends.iter().any(|end| answer.ends_with(end)) {
        assert!(
            Instant::now() < deadline,
            "no complete answer: {:?}",
            String::from_utf8_lossy(&answer)
        );
        let read = stream
            .read(&mut chunk)
            .expect("read from the test memcached");
        assert!(
            read > 0,
            "memcached closed: {:?}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&chunk[..read]);
    }
    answer
}

/// The server's `stats`, numbers only.
pub fn stats(address: &str) -> BTreeMap<String, u64> {
    let answer = request(address, b"stats\r\n", &[b"END\r\n"]);
    String::from_utf8_lossy(&answer)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            (fields.next()? == "STAT").then_some(())?;
            let name = fields.next()?;
            let value = fields.next()?.parse().ok()?;
            Some((name.to_owned(), value))
        })
        .collect()
}

/// The command counters that grew between two `stats` snapshots (the
/// `cmd_*`, `get_*`, `delete_*`, `cas_*`, `incr_*`, `touch_*` and `flush` ones).
pub fn delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    const COUNTERS: [&str; 8] = [
        "cmd_", "get_", "delete_", "cas_", "incr_", "decr_", "touch_", "meta",
    ];
    after
        .iter()
        .filter(|(name, _)| COUNTERS.iter().any(|prefix| name.starts_with(prefix)))
        .filter_map(|(name, value)| {
            let grew = value.saturating_sub(before.get(name).copied().unwrap_or(0));
            (grew > 0).then(|| (name.clone(), grew))
        })
        .collect()
}

/// `stats` of every address, summed.
pub fn stats_of(addresses: &[String]) -> BTreeMap<String, u64> {
    let mut total = BTreeMap::new();
    for address in addresses {
        for (name, value) in stats(address) {
            *total.entry(name).or_insert(0) += value;
        }
    }
    total
}

/// The raw value stored under `key` (a key that needs no mapping), if any.
pub fn raw_get(address: &str, key: &str) -> Option<Vec<u8>> {
    let answer = request(address, format!("get {key}\r\n").as_bytes(), &[b"END\r\n"]);
    let text = answer.strip_prefix(b"VALUE ")?;
    let header_end = text.windows(2).position(|w| w == b"\r\n")?;
    let header = std::str::from_utf8(&text[..header_end]).ok()?;
    let len: usize = header.rsplit(' ').next()?.parse().ok()?;
    Some(text[header_end + 2..header_end + 2 + len].to_vec())
}

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

/// A counter map from pairs, for comparisons.
pub fn counters(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), *value))
        .collect()
}
