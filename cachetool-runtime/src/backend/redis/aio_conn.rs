//! The async connections of the Redis backend: one multiplexed connection per
//! tokio runtime, shared by all of that runtime's tasks, made on first use.
//!
//! A multiplexed connection is driven by a task on the runtime that opened it
//! and dies with that runtime. A [`Cache`](crate::Cache) is built outside any
//! runtime and may be used from several, one after another (tests) or at once
//! (a current-thread runtime per thread), so each runtime gets its own
//! connection: a runtime's tasks never wait on another runtime's driver. A
//! small task spawned next to the connection holds a token that the runtime
//! drops when it shuts down; a connection whose token is gone is replaced.
//!
//! One server: a redis [`ConnectionManager`], which reconnects by itself after
//! an I/O error (the server restarted), one attempt at a time, without
//! retries: a call meeting a down server fails at once and computes. A
//! cluster: the redis crate's async cluster connection, which follows
//! redirections and reconnects to nodes.

use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{RedisError, RedisResult};
use tokio::runtime::{Handle, Id};

use super::conn::{Client, Connections};

/// A connection to one server or to a cluster; clones share it.
#[derive(Clone)]
pub(super) enum AsyncConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

struct PerRuntime {
    runtime: Id,
    /// Gone once the runtime has shut down.
    alive: Weak<()>,
    conn: AsyncConn,
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

impl AsyncConnections {
    /// The connection of the current runtime, made if it has none (or its
    /// runtime id was reused after an earlier runtime ended).
    pub(super) async fn get(&self, connections: &Connections) -> RedisResult<AsyncConn> {
        let handle = Handle::try_current().map_err(|_| {
            RedisError::from((
                redis::ErrorKind::Client,
                "no tokio runtime",
                "the async Redis backend runs on tokio".to_owned(),
            ))
        })?;
        let runtime = handle.id();
        if let Some(conn) = self.find(runtime) {
            return Ok(conn);
        }
        let options = connections.options();
        let conn = match connections.client() {
            Client::Single(info) => {
                let client = redis::Client::open((**info).clone())?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(options.connect_timeout))
                    .set_response_timeout(Some(options.io_timeout))
                    .set_number_of_retries(0);
                // Lazy: the first command connects.
                AsyncConn::Single(ConnectionManager::new_lazy_with_config(client, config)?)
            }
            Client::Cluster(client) => AsyncConn::Cluster(client.get_async_connection().await?),
        };
        let mut by_runtime = self.by_runtime.lock();
        by_runtime.retain(PerRuntime::is_alive);
        if let Some(made) = by_runtime.iter().find(|slot| slot.runtime == runtime) {
            // Another task of this runtime was quicker: share its connection.
            return Ok(made.conn.clone());
        }
        let alive = Arc::new(());
        by_runtime.push(PerRuntime {
            runtime,
            alive: Arc::downgrade(&alive),
            conn: conn.clone(),
        });
        drop(by_runtime);
        // Holds `alive` for as long as the runtime runs: its shutdown drops the task.
        handle.spawn(async move {
            let _alive = alive;
            std::future::pending::<()>().await
        });
        Ok(conn)
    }

    fn find(&self, runtime: Id) -> Option<AsyncConn> {
        self.by_runtime
            .lock()
            .iter()
            .find(|slot| slot.runtime == runtime && slot.is_alive())
            .map(|slot| slot.conn.clone())
    }
}
