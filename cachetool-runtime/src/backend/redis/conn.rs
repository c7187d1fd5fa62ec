//! Connections to Redis: a pool of blocking connections that threads borrow
//! one call at a time.
//!
//! A connection is checked out for one round trip and put back after a good
//! answer, so many threads share few connections and no call sends a `PING`.
//! After anything but a clean server reply (an I/O error, a timeout, a parse
//! error) the connection is dropped, as it may hold a late answer; an I/O
//! error drops every idle connection too (the server probably restarted), and
//! the next call connects anew. Connecting and every command are bounded by
//! the [`ConnectOptions`] timeouts.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConnection};
use redis::{ConnectionInfo, RedisError, RedisResult};

use super::url::Target;
use crate::backend::ConnectOptions;
use crate::{Error, ErrorKind, Result};

/// The most idle connections kept; more threads than this at once still work,
/// their extra connections are closed after use.
const MAX_IDLE: usize = 64;

/// A connection to one server or to a whole cluster.
pub(crate) enum Conn {
    Single(redis::Connection),
    Cluster(Box<ClusterConnection>),
}

/// Where connections go: what the blocking pool and the async connections share.
pub(super) enum Client {
    Single(Box<ConnectionInfo>),
    Cluster(Box<ClusterClient>),
}

/// The pool, and where it connects to.
pub(crate) struct Connections {
    client: Client,
    options: ConnectOptions,
    /// The servers, for errors: `127.0.0.1:6379`, a socket path, or a node list.
    server: String,
    idle: Mutex<Vec<Conn>>,
    round_trips: AtomicU64,
}

impl Connections {
    /// A pool for `target`; nothing is connected yet.
    pub(crate) fn new(target: Target, options: ConnectOptions) -> Result<Connections> {
        let (client, server) = match target {
            Target::Single(info) => {
                let server = info.addr().to_string();
                (Client::Single(info), server)
            }
            Target::Cluster(nodes) => {
                let server = nodes
                    .iter()
                    .map(|node| node.addr().to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                let client = ClusterClientBuilder::new(nodes)
                    .connection_timeout(options.connect_timeout)
                    .response_timeout(options.io_timeout)
                    .retries(2)
                    .build()
                    .map_err(|error| {
                        Error::with_source(
                            ErrorKind::Config,
                            format!("the Redis cluster {server} cannot be used"),
                            error,
                        )
                    })?;
                (
                    Client::Cluster(Box::new(client)),
                    format!("cluster {server}"),
                )
            }
        };
        Ok(Connections {
            client,
            options,
            server,
            idle: Mutex::new(Vec::new()),
            round_trips: AtomicU64::new(0),
        })
    }

    pub(crate) fn server(&self) -> &str {
        &self.server
    }

    #[cfg(feature = "tokio")]
    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    #[cfg(feature = "tokio")]
    pub(super) fn options(&self) -> ConnectOptions {
        self.options
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.client, Client::Cluster(_))
    }

    pub(crate) fn round_trips(&self) -> u64 {
        self.round_trips.load(Relaxed)
    }

    /// Counts one more round trip (a `NOSCRIPT` fallback).
    pub(crate) fn count_round_trip(&self) {
        self.round_trips.fetch_add(1, Relaxed);
    }

    /// Runs `f` (one round trip) on a pooled connection; `operation` names it in errors.
    pub(crate) fn run<T>(
        &self,
        operation: &str,
        f: impl FnOnce(&mut Conn) -> RedisResult<T>,
    ) -> Result<T> {
        let pooled = self.idle.lock().pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => self
                .connect()
                .map_err(|error| self.error("connect", error))?,
        };
        self.count_round_trip();
        match f(&mut conn) {
            Ok(value) => {
                self.put_back(conn);
                Ok(value)
            }
            Err(error) => {
                if matches!(error.kind(), redis::ErrorKind::Server(_)) {
                    // A clean error reply: the connection is in step.
                    self.put_back(conn);
                } else if error.is_io_error() || error.is_connection_dropped() {
                    self.idle.lock().clear();
                }
                Err(self.error(operation, error))
            }
        }
    }

    fn put_back(&self, conn: Conn) {
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    fn connect(&self) -> RedisResult<Conn> {
        match &self.client {
            Client::Single(info) => {
                let conn = redis::Client::open((**info).clone())?
                    .get_connection_with_timeout(self.options.connect_timeout)?;
                conn.set_read_timeout(Some(self.options.io_timeout))?;
                conn.set_write_timeout(Some(self.options.io_timeout))?;
                Ok(Conn::Single(conn))
            }
            Client::Cluster(client) => Ok(Conn::Cluster(Box::new(client.get_connection()?))),
        }
    }

    /// A cachetool error for a failed `operation`, naming the server.
    pub(crate) fn error(&self, operation: &str, error: RedisError) -> Error {
        let kind = if error.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Backend
        };
        Error::with_source(
            kind,
            format!("redis {operation} on {} failed", self.server),
            error,
        )
        .at_server(&self.server, operation)
    }
}
