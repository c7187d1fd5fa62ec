//! Raw reads and writes on a test server in its own protocol: what another
//! program sharing the server does, and how a test looks at what the backend
//! under test stored. One [`Client`] for both kinds of server, so that a test
//! written once for Redis and Memcached reads and writes keys the same way.

use crate::memcached;
use crate::server::Kind;

/// A client of the server at `address` (`127.0.0.1:port`); each call opens
/// a connection of its own, so clients are cheap and can go to child processes.
#[derive(Debug, Clone)]
pub struct Client {
    kind: Kind,
    address: String,
}

impl Client {
    /// A client of the `kind` server at `address`.
    pub fn new(kind: Kind, address: &str) -> Client {
        Client {
            kind,
            address: address.to_owned(),
        }
    }

    /// The bytes stored under `key` (a key the server takes as it is), if any.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.kind {
            Kind::Redis => redis::cmd("GET")
                .arg(key)
                .query(&mut self.redis())
                .expect("GET"),
            Kind::Memcached => memcached::raw_get(&self.address, key),
        }
    }

    /// Stores `value` under `key`, without an expiry.
    pub fn set(&self, key: &str, value: &[u8]) {
        match self.kind {
            Kind::Redis => redis::cmd("SET")
                .arg(key)
                .arg(value)
                .query::<()>(&mut self.redis())
                .expect("SET"),
            Kind::Memcached => self.set_flagged(key, 0, value),
        }
    }

    /// Memcached only: stores `value` under `key` with the client `flags`.
    pub fn set_flagged(&self, key: &str, flags: u32, value: &[u8]) {
        assert_eq!(self.kind, Kind::Memcached, "only memcached has flags");
        let mut command = format!("set {key} {flags} 0 {}\r\n", value.len()).into_bytes();
        command.extend_from_slice(value);
        command.extend_from_slice(b"\r\n");
        memcached::request(&self.address, &command, &[b"STORED\r\n"]);
    }

    /// Redis only: replaces whatever `key` holds with a list of `item`, a
    /// type no cache stores.
    pub fn set_list(&self, key: &str, item: &str) {
        assert_eq!(self.kind, Kind::Redis, "only Redis has lists");
        let mut conn = self.redis();
        redis::cmd("DEL")
            .arg(key)
            .query::<()>(&mut conn)
            .expect("DEL");
        redis::cmd("RPUSH")
            .arg(key)
            .arg(item)
            .query::<()>(&mut conn)
            .expect("RPUSH");
    }

    /// Adds one to the decimal number stored under `key` (which must exist:
    /// memcached's `incr` creates nothing) and returns the new number.
    pub fn incr(&self, key: &str) -> u64 {
        match self.kind {
            Kind::Redis => redis::cmd("INCR")
                .arg(key)
                .query(&mut self.redis())
                .expect("INCR"),
            Kind::Memcached => {
                let request = format!("incr {key} 1\r\n");
                let answer = memcached::request(&self.address, request.as_bytes(), &[b"\r\n"]);
                let answer = String::from_utf8_lossy(&answer);
                answer
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("incr {key}: {answer}"))
            }
        }
    }

    /// Every key the server holds (on Memcached, as `lru_crawler metadump`
    /// lists them: the crawler may skip an item busy at that moment).
    pub fn keys(&self) -> Vec<Vec<u8>> {
        match self.kind {
            Kind::Redis => redis::cmd("KEYS")
                .arg("*")
                .query(&mut self.redis())
                .expect("KEYS"),
            Kind::Memcached => memcached::keys(&self.address),
        }
    }

    fn redis(&self) -> redis::Connection {
        crate::redis::connect(&format!("redis://{}/", self.address))
    }
}
