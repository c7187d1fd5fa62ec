//! The servers that cachetool's tests and benches run against, and what they
//! need around them. Nothing here knows cachetool: these are processes,
//! ports and wire protocols, shared by `tests/`, `benches/` and the examples'
//! tests as a dev-dependency (the crate is not published).
//!
//! - [`Server`]: a real `redis-server` or `memcached` on a free loopback port,
//!   stopped, restarted on the same port, and killed (its directory removed)
//!   even if the test process dies.
//! - [`cluster::Cluster`]: a 3-node Redis Cluster; [`tls`]: a private CA, and
//!   Redis servers and clusters that serve TLS with its certificates.
//! - [`Client`]: raw `get`, `set`, `incr` and `keys` on either kind of server;
//!   [`redis`] and [`memcached`]: raw requests and command counters, to check
//!   what the backend under test sent.
//! - [`faults`]: listeners that never answer, never accept, or lie.
//! - [`proxy::Proxy`]: a TCP proxy that counts round trips as the wire sees them.
//! - [`child`]: test binaries that run themselves again as child processes.
//!
//! Every wait here is bounded: a server that does not start, or a child that
//! does not finish, fails the test instead of hanging it.

pub mod child;
pub mod client;
pub mod cluster;
pub mod faults;
pub mod memcached;
pub mod proxy;
pub mod redis;
pub mod server;
pub mod tls;

pub use client::Client;
pub use server::{Kind, Server};
