//! Connections to Redis: a pool of blocking connections that threads borrow
//! one call at a time.
//!
//! A connection is checked out for one round trip and put back after a good
//! answer, so many threads share few connections and no call sends a `PING`.
//! After anything but a clean server reply (an I/O error, a timeout, a parse
//! error) the connection is dropped, as it may hold a late answer; an I/O
//! error drops every idle connection too (the server probably restarted), and
//! the next call connects anew. Connecting and every command are bounded by
//! the [`ConnectOptions`] timeouts; after a failed connect, calls fail at once
//! for a while (see `backoff`).
//!
//! A blocking TLS connection does its handshake on its first exchange, so that
//! exchange is part of connecting: its failure counts as a failed connect, and
//! its error says that TLS failed and why (see `tls`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConnection};
use redis::{ConnectionAddr, ConnectionInfo, RedisError, RedisResult};

use super::backoff::{Attempt, Backoff, Paused};
use super::tls;
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
    /// Whether the connections use TLS (`rediss://`).
    tls: bool,
    /// The server, or the cluster's nodes as the URL names them: where a
    /// change subscriber connects (see `changes/`).
    nodes: Vec<ConnectionInfo>,
    idle: Mutex<Vec<Conn>>,
    round_trips: AtomicU64,
    /// The pause after failed connects, for the pool and the async connections alike.
    backoff: Backoff,
}

impl Connections {
    /// A pool for `target`; nothing is connected yet.
    pub(crate) fn new(target: Target, options: ConnectOptions) -> Result<Connections> {
        options.check()?;
        let tls = match &target {
            Target::Single(info) => is_tls(info),
            Target::Cluster(nodes) => nodes.iter().any(is_tls),
        };
        let nodes = match &target {
            Target::Single(info) => vec![(**info).clone()],
            Target::Cluster(nodes) => nodes.clone(),
        };
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
            tls,
            nodes,
            idle: Mutex::new(Vec::new()),
            round_trips: AtomicU64::new(0),
            backoff: Backoff::default(),
        })
    }

    pub(crate) fn server(&self) -> &str {
        &self.server
    }

    /// The server, or the cluster's nodes as the URL names them.
    pub(crate) fn nodes(&self) -> &[ConnectionInfo] {
        &self.nodes
    }

    pub(crate) fn options_of_connections(&self) -> ConnectOptions {
        self.options
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

    /// Connections tried so far, sync and async, good or bad.
    pub(crate) fn connect_attempts(&self) -> u64 {
        self.backoff.attempts()
    }

    #[cfg(feature = "tokio")]
    pub(super) fn backoff(&self) -> &Backoff {
        &self.backoff
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
        let fresh = pooled.is_none();
        let (mut conn, handshake) = match pooled {
            Some(conn) => (conn, None),
            None => self.connect()?,
        };
        self.count_round_trip();
        match f(&mut conn) {
            Ok(value) => {
                if let Some(handshake) = handshake {
                    handshake.succeeded();
                }
                self.put_back(conn);
                Ok(value)
            }
            Err(error) => {
                let clean_reply = matches!(error.kind(), redis::ErrorKind::Server(_));
                if let Some(handshake) = handshake {
                    match clean_reply {
                        true => handshake.succeeded(),
                        false => handshake.failed(&error),
                    }
                }
                if clean_reply {
                    // A clean error reply: the connection is in step.
                    self.put_back(conn);
                } else if error.is_io_error() || error.is_connection_dropped() {
                    self.idle.lock().clear();
                }
                Err(self.error_on(operation, error, fresh))
            }
        }
    }

    fn put_back(&self, conn: Conn) {
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// A new connection, unless connecting failed moments ago. On one TLS
    /// server, the attempt is still open: the first exchange (the handshake)
    /// settles it.
    fn connect(&self) -> Result<(Conn, Option<Attempt<'_>>)> {
        let attempt = self.backoff.admit().map_err(|paused| self.paused(paused))?;
        match self.open_conn() {
            Ok(conn) if self.tls && matches!(conn, Conn::Single(_)) => Ok((conn, Some(attempt))),
            Ok(conn) => {
                attempt.succeeded();
                Ok((conn, None))
            }
            Err(error) => {
                attempt.failed(&error);
                Err(self.error_on("connect", error, true))
            }
        }
    }

    fn open_conn(&self) -> RedisResult<Conn> {
        match &self.client {
            Client::Single(info) => {
                let conn = redis::Client::open((**info).clone())?
                    .get_connection_with_timeout(self.options.connect_timeout)?;
                // Never zero (`ConnectOptions::check`): std refuses `Some(ZERO)`.
                conn.set_read_timeout(Some(self.options.io_timeout))?;
                conn.set_write_timeout(Some(self.options.io_timeout))?;
                Ok(Conn::Single(conn))
            }
            Client::Cluster(client) => Ok(Conn::Cluster(Box::new(client.get_connection()?))),
        }
    }

    /// The error of a call that did not try to connect, the server having
    /// failed moments ago.
    pub(super) fn paused(&self, paused: Paused) -> Error {
        let failures = paused.failures;
        let next = match paused.left.as_millis() {
            0 => "another call is trying now".to_owned(),
            left => format!("the next try in {left} ms"),
        };
        Error::new(
            ErrorKind::Backend,
            format!(
                "redis connect on {} not tried: {failures} failed attempt(s) in a row, \
                 the last: {}; {next}",
                self.server, paused.last_failure
            ),
        )
        .at_server(&self.server, "connect")
    }

    /// A cachetool error for a failed `operation`, naming the server.
    pub(crate) fn error(&self, operation: &str, error: RedisError) -> Error {
        self.error_on(operation, error, false)
    }

    /// The same, for an `operation` that was the `first_exchange` of a new
    /// connection (for TLS, the handshake): a TLS failure says so and why.
    pub(super) fn error_on(
        &self,
        operation: &str,
        error: RedisError,
        first_exchange: bool,
    ) -> Error {
        let kind = if error.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Backend
        };
        let tls_failure = match self.tls {
            true => tls::failure(&error, first_exchange),
            false => None,
        };
        let message = match tls_failure {
            Some(why) => format!("redis {operation} on {} failed: {why}", self.server),
            None => format!("redis {operation} on {} failed", self.server),
        };
        Error::with_source(kind, message, error).at_server(&self.server, operation)
    }
}

fn is_tls(info: &ConnectionInfo) -> bool {
    matches!(info.addr(), ConnectionAddr::TcpTls { .. })
}
