//! The async connections of the Redis backend: one multiplexed connection per
//! tokio runtime, shared by all of that runtime's tasks, made on first use.
//!
//! A multiplexed connection is driven by a task on the runtime that opened it
//! and dies with that runtime. A [`Cache`](crate::Cache) is built outside any
//! runtime and may be used from several, one after another (tests) or at once
//! (a current-thread runtime per thread), so each runtime gets its own
//! connection: a runtime's tasks never wait on another runtime's driver. A
//! small task spawned next to the connection holds a token that the runtime
//! drops when it shuts down; a connection whose runtime is gone is replaced.
//!
//! One server: a redis `MultiplexedConnection`, made here, one attempt at a
//! time (the runtime's other tasks wait for it), and dropped after an error
//! that leaves it unusable (the server restarted), so that the next call
//! connects anew. Connecting goes through the backend's back-off (see
//! `backoff`): after a failed attempt, calls fail at once and compute,
//! instead of each waiting for the connect timeout of a server that drops
//! connection attempts, and they never wait for another task's attempt on a
//! server that failed. A cluster: the redis crate's async cluster connection,
//! which follows redirections and reconnects to nodes by itself.

use std::sync::{Arc, Weak};

use event_listener::{Event, EventListener};
use parking_lot::Mutex;
use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, RedisError};
use tokio::runtime::{Handle, Id};

use super::backoff::Attempt;
use super::conn::{Client, Connections};
use crate::{Error, ErrorKind, Result};

/// A connection to one server or to a cluster; clones share it.
#[derive(Clone)]
pub(super) enum AsyncConn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

struct PerRuntime {
    runtime: Id,
    /// Gone once the runtime has shut down.
    alive: Weak<()>,
    link: Arc<Link>,
}

impl PerRuntime {
    fn is_alive(&self) -> bool {
        self.alive.strong_count() > 0
    }
}

/// The connections of each live runtime (few: one per runtime using the backend).
#[derive(Default)]
pub(super) struct AsyncConnections {
    by_runtime: Mutex<Vec<PerRuntime>>,
}

/// One runtime's connection: made when needed, one attempt at a time.
#[derive(Default)]
struct Link {
    state: Mutex<LinkState>,
    /// Notified when an attempt to connect ends, made or not.
    settled: Event,
}

#[derive(Default)]
struct LinkState {
    conn: Option<AsyncConn>,
    /// Counts the connections made, so that a call reporting a broken one
    /// never drops its successor.
    generation: u64,
    /// Whether the connection has carried a good exchange.
    proven: bool,
    /// Whether a task is connecting.
    connecting: bool,
}

/// The connection a call uses, and how to report on it afterwards.
pub(super) struct Lease {
    pub(super) conn: AsyncConn,
    /// Whether the call is the first exchange on a new connection.
    pub(super) first_exchange: bool,
    link: Arc<Link>,
    generation: u64,
}

impl Lease {
    /// Reports how the call's exchange went: a connection left unusable
    /// (closed, out of step) is dropped, so that the next call connects anew.
    pub(super) fn settle(&self, outcome: Result<(), &RedisError>) {
        let mut state = self.link.state.lock();
        if state.generation != self.generation {
            return;
        }
        match outcome {
            Ok(()) => state.proven = true,
            Err(error) if error.is_unrecoverable_error() => {
                if let Some(AsyncConn::Single(_)) = state.conn {
                    state.conn = None;
                }
            }
            Err(_) => {}
        }
    }
}

impl AsyncConnections {
    /// The connection of the current runtime, made if it has none.
    pub(super) async fn get(&self, connections: &Connections) -> Result<Lease> {
        let handle = Handle::try_current().map_err(|_| {
            Error::new(
                ErrorKind::Config,
                "the async Redis backend runs on tokio: no tokio runtime is running",
            )
        })?;
        self.link(&handle).lease(connections).await
    }

    /// The current runtime's link (made, with its liveness token, if it has
    /// none or its runtime id was reused after an earlier runtime ended).
    fn link(&self, handle: &Handle) -> Arc<Link> {
        let runtime = handle.id();
        let mut by_runtime = self.by_runtime.lock();
        if let Some(slot) = by_runtime
            .iter()
            .find(|slot| slot.runtime == runtime && slot.is_alive())
        {
            return Arc::clone(&slot.link);
        }
        by_runtime.retain(PerRuntime::is_alive);
        let alive = Arc::new(());
        let link = Arc::new(Link::default());
        by_runtime.push(PerRuntime {
            runtime,
            alive: Arc::downgrade(&alive),
            link: Arc::clone(&link),
        });
        drop(by_runtime);
        // Holds `alive` for as long as the runtime runs: its shutdown drops the task.
        handle.spawn(async move {
            let _alive = alive;
            std::future::pending::<()>().await
        });
        link
    }
}

impl Link {
    /// The connection, made now if there is none: by this call, or by
    /// another task of this runtime that is at it (waited for, unless
    /// connecting failed last time).
    async fn lease(self: Arc<Self>, connections: &Connections) -> Result<Lease> {
        loop {
            let listener = match self.look(connections)? {
                Look::Made(lease) => return Ok(lease),
                Look::Connect(attempt) => return self.connect(connections, attempt).await,
                Look::Wait(listener) => listener,
            };
            listener.await;
        }
    }

    /// What to do now (the lock is held only in here, never across an await).
    fn look<'b>(self: &Arc<Self>, connections: &'b Connections) -> Result<Look<'b>> {
        let mut state = self.state.lock();
        if let Some(conn) = &state.conn {
            return Ok(Look::Made(Lease {
                conn: conn.clone(),
                first_exchange: !state.proven,
                generation: state.generation,
                link: Arc::clone(self),
            }));
        }
        if !state.connecting {
            let attempt = connections
                .backoff()
                .admit()
                .map_err(|paused| connections.paused(paused))?;
            state.connecting = true;
            return Ok(Look::Connect(attempt));
        }
        if let Some(paused) = connections.backoff().failing() {
            return Err(connections.paused(paused));
        }
        // Registered under the lock: the end of the attempt cannot be missed.
        Ok(Look::Wait(self.settled.listen()))
    }

    /// Makes the connection, holding `attempt`.
    async fn connect(
        self: &Arc<Self>,
        connections: &Connections,
        attempt: Attempt<'_>,
    ) -> Result<Lease> {
        // Cleared however this ends (cancelled too): waiters then look again.
        let _connecting = Connecting(self);
        let options = connections.options();
        let made = match connections.client() {
            Client::Single(info) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(options.connect_timeout))
                    .set_response_timeout(Some(options.io_timeout));
                match redis::Client::open((**info).clone()) {
                    Ok(client) => client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await
                        .map(AsyncConn::Single),
                    Err(error) => Err(error),
                }
            }
            Client::Cluster(client) => client.get_async_connection().await.map(AsyncConn::Cluster),
        };
        match made {
            Ok(conn) => {
                attempt.succeeded();
                let mut state = self.state.lock();
                state.generation += 1;
                state.conn = Some(conn.clone());
                state.proven = false;
                Ok(Lease {
                    conn,
                    first_exchange: true,
                    generation: state.generation,
                    link: Arc::clone(self),
                })
            }
            Err(error) => {
                attempt.failed(&error);
                Err(connections.error_on("connect", error, true))
            }
        }
    }
}

/// What a call found on its runtime's link.
enum Look<'b> {
    Made(Lease),
    /// No connection, and no one connecting: this call connects.
    Connect(Attempt<'b>),
    /// Another task is connecting to a server that looked healthy.
    Wait(EventListener),
}

/// Marks the end of an attempt to connect when dropped.
struct Connecting<'a>(&'a Link);

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        self.0.state.lock().connecting = false;
        self.0.settled.notify(usize::MAX);
    }
}
