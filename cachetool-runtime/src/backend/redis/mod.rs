//! The Redis backend: one server (`redis://`, `rediss://`, `redis+unix://`) or
//! a Redis Cluster (`redis+cluster://`), with every trait method one round trip.
//!
//! | method | standalone | cluster |
//! |---|---|---|
//! | `get_many` | `MGET` | a pipeline of `GET`s, one per node, all sent before any answer is read |
//! | `set` | `SET [PX]`; of an entry, tag or epoch key, an `EVAL` that sets and publishes the change | the same |
//! | `replace_if` | `EVALSHA` of a compare-and-set script, which also releases the lock it is handed (compare-and-delete) | a pipeline of that `EVALSHA` (without the lock) and the lock's compare-and-delete (`EVAL`), one per node |
//! | `unlock` | `EVALSHA` of a compare-and-delete script | the same |
//! | `delete_many` | `DEL`; of tag or entry keys, an `EVAL` that deletes them and publishes the change | a pipeline of those, one per key |
//! | `begin_load` | a pipeline: `SET lock NX PX`, `SET NX` per version, `MGET` | the same with `GET`s, one pipeline per node |
//! | `replace_if_many` | a pipeline of the `replace_if` script calls | a pipeline of those (without the locks) and of the locks' compare-and-deletes, one per node |
//!
//! Keys longer than 1 KiB are hashed (see `keys`). Values are stored as bytes.
//!
//! Every write of an entry, tag version or epoch publishes its change from
//! inside its own script (`write`, `announce`; see `changes/`).

mod admin;
#[cfg(feature = "tokio")]
mod aio;
#[cfg(feature = "tokio")]
mod aio_conn;
mod announce;
mod backoff;
mod batch;
mod begin;
mod conn;
mod keys;
mod scripts;
mod stats;
#[cfg(feature = "redis-tls")]
mod tls;
/// Without `redis-tls` no connection is TLS (`url.rs` refuses `rediss://`),
/// so no failure is a TLS one.
#[cfg(not(feature = "redis-tls"))]
mod tls {
    pub(super) fn failure(_: &redis::RedisError, _first_exchange: bool) -> Option<&'static str> {
        None
    }
}
mod url;
mod write;

pub(crate) use self::backoff::Backoff;

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use redis::cluster::cluster_pipe;
use redis::Value as Reply;

use self::begin::{get_cmd, is_wrong_type, mget_cmd, read_string_cmd, BeginLoad, Found};
use self::conn::{Conn, Connections};
use self::scripts::Script;
use self::write::{delete_cmds, set_cmd};
use super::{
    Backend, ConnectOptions, HeldLock, LoadStart, LockRequest, ReplaceIf, ServerStats, Value,
};
use crate::{Error, Result};

/// Keeps a [`Cache`](crate::Cache)'s entries, tag versions and locks in Redis
/// or a Redis Cluster.
///
/// Made by [`CacheBuilder::redis`](crate::CacheBuilder::redis) or
/// [`Cache::from_url`](crate::Cache::from_url); open one yourself to share it
/// between caches of different prefixes, or to read [`round_trips`](Self::round_trips).
///
/// Every [`Backend`] method is one round trip. A
/// [`replace_if`](Backend::replace_if) handed the entry's lock releases it (by
/// compare-and-delete) in the same script call on one server, in the same
/// pipelined exchange on a cluster: a locked miss of a [`Cache`](crate::Cache)
/// is 3 round trips.
///
/// With the `tokio` feature it is also an [`AsyncBackend`](crate::AsyncBackend)
/// (see [`Backend::as_async`]): async callers await the redis crate's
/// multiplexed connection (one per tokio runtime, opened on first use,
/// reconnecting), sending the same commands with the same round trips, counted
/// in the same [`round_trips`](Self::round_trips).
pub struct RedisBackend {
    connections: Connections,
    /// The async connection of each tokio runtime (see `aio_conn`).
    #[cfg(feature = "tokio")]
    async_connections: aio_conn::AsyncConnections,
    /// The database whose key count `server_stats` reports.
    db: i64,
    /// Version keys found holding another type and replaced (see `replaced_versions`).
    replaced_versions: AtomicU64,
    /// This backend's random id, in every change it announces (see `changes/`):
    /// a subscriber tells its own backend's changes by it.
    origin: u64,
}

impl RedisBackend {
    /// The longest key, in bytes, stored as it is; a longer one is stored as
    /// `{prefix}:#xxh3-128:{32 hex digits of the xxh3-128 of the whole key}`.
    pub const MAX_KEY_LEN: usize = keys::MAX_KEY_LEN;

    /// A backend for `url` (see [`CacheBuilder::redis`](crate::CacheBuilder::redis)
    /// for the forms). Only reads the URL and checks `options` (a zero timeout
    /// is a [`Config`](crate::ErrorKind::Config) error): connections open on first use.
    pub fn open(url: &str, options: &ConnectOptions) -> Result<RedisBackend> {
        let target = url::parse(url)?;
        let db = match &target {
            url::Target::Single(info) => info.redis_settings().db(),
            url::Target::Cluster(_) => 0,
        };
        Ok(RedisBackend {
            connections: Connections::new(target, *options)?,
            #[cfg(feature = "tokio")]
            async_connections: Default::default(),
            db,
            replaced_versions: AtomicU64::new(0),
            origin: fastrand::u64(..),
        })
    }

    /// How many requests this backend has sent since it was opened, by sync
    /// and async calls alike: one per method call that reached the point of
    /// sending (a call whose connect failed, or that did not try during the
    /// pause after a failed connect, counts none), plus one when a script had
    /// to be sent again as `EVAL` after a `NOSCRIPT` answer, one per version
    /// key of another type replaced (see
    /// [`replaced_versions`](Self::replaced_versions)), and, on a cluster, one
    /// when the reads are sent again after a `WRONGTYPE` answer. On a cluster,
    /// one call that talks to several nodes at once (all requests sent before
    /// any answer is read) counts one.
    pub fn round_trips(&self) -> u64 {
        self.connections.round_trips()
    }

    /// How many connections this backend has tried to open since it was
    /// opened, sync and async alike, whether they were made or not. After a
    /// failed attempt, calls fail at once (and compute their own values) for a
    /// pause of 250 ms that doubles with each further failure up to 5 s
    /// (jittered), and then one call at a time tries again: a server that
    /// drops connection attempts costs the connect timeout only now and then.
    pub fn connect_attempts(&self) -> u64 {
        self.connections.connect_attempts()
    }

    /// How many tag or epoch keys were found holding another type than a
    /// string (a list, a hash, a set... left there by another program) and
    /// replaced with a new version, as a clean would. Each is also logged with
    /// `tracing::warn!`. (Without the repair, every call under such a tag would
    /// miss: its version could never be read.)
    pub fn replaced_versions(&self) -> u64 {
        self.replaced_versions.load(Relaxed)
    }

    /// `127.0.0.1:6379`, a socket path, or `cluster host:port,...`.
    pub fn server(&self) -> &str {
        self.connections.server()
    }

    /// Runs `script` on `key`: `EVALSHA`, then `EVAL` if the server lacks it.
    fn eval<T: redis::FromRedisValue>(
        &self,
        operation: &str,
        script: &Script,
        keys: &[&str],
        args: &[&[u8]],
    ) -> Result<T> {
        let attempt = self.connections.run(operation, |conn| {
            query_cmd::<T>(conn, &script.call(false, keys, args))
        });
        match attempt {
            Err(error) if is_noscript(&error) => self.connections.run(operation, |conn| {
                query_cmd::<T>(conn, &script.call(true, keys, args))
            }),
            other => other,
        }
    }

    /// Mends the version keys of `found` that read as nil (see `begin`), one
    /// script call each, and gives what `begin_load` returns.
    fn mend(&self, request: &BeginLoad<'_>, mut found: Found) -> Result<LoadStart> {
        for index in found.unreadable() {
            let key = &request.versions[index];
            let candidate = request.candidate(index);
            let reply: Reply =
                self.eval(MEND, &scripts::MEND_VERSION, &[key], &[&candidate[..]])?;
            let kind = found
                .mended(index, reply)
                .map_err(|error| self.connections.error(MEND, error))?;
            self.note_replaced(key, &kind);
        }
        Ok(found.into_start(request))
    }

    /// Counts and logs a version key that held `kind`, unless it was only absent.
    fn note_replaced(&self, key: &str, kind: &str) {
        if kind == "none" {
            return;
        }
        self.replaced_versions.fetch_add(1, Relaxed);
        tracing::warn!(
            server = self.server(),
            key,
            kind,
            "cachetool: a tag or epoch key held a {kind}, not a version; replaced with a new version"
        );
    }
}

/// The operation name of a version key's mend, in errors.
const MEND: &str = "begin_load (replace a version key of another type)";

fn is_noscript(error: &Error) -> bool {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<redis::RedisError>())
        .is_some_and(|source| {
            source.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
        })
}

fn query_cmd<T: redis::FromRedisValue>(conn: &mut Conn, cmd: &redis::Cmd) -> redis::RedisResult<T> {
    match conn {
        Conn::Single(conn) => cmd.query(conn),
        Conn::Cluster(conn) => cmd.query(&mut **conn),
    }
}

fn to_value(reply: Reply) -> Option<Value> {
    match reply {
        Reply::BulkString(bytes) => Some(Value::Bytes(Bytes::from(bytes))),
        Reply::SimpleString(text) => Some(Value::Bytes(Bytes::from(text))),
        _ => None,
    }
}

fn replies(reply: Reply, expected: usize, what: &str) -> redis::RedisResult<Vec<Reply>> {
    match reply {
        Reply::Array(items) if items.len() == expected => Ok(items),
        other => Err(redis::RedisError::from((
            redis::ErrorKind::Parse,
            "unexpected reply",
            format!("{what}: expected {expected} values, got {other:?}"),
        ))),
    }
}

fn redis_keys<'k>(keys: &[&'k str]) -> Vec<Cow<'k, str>> {
    keys.iter().map(|key| keys::redis_key(key)).collect()
}

impl Backend for RedisBackend {
    fn name(&self) -> &str {
        "redis"
    }

    /// With the `tokio` feature: the redis crate's multiplexed async connection
    /// (one per runtime, shared by its tasks, reconnecting).
    #[cfg(feature = "tokio")]
    fn as_async(&self) -> Option<&dyn super::AsyncBackend> {
        Some(self)
    }

    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Value>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = redis_keys(keys);
        let reply = self.connections.run("MGET", |conn| match conn {
            Conn::Single(conn) => {
                mget_cmd(keys.iter().map(|key| key.as_ref())).query::<Reply>(conn)
            }
            Conn::Cluster(conn) => {
                let mut pipe = cluster_pipe();
                for key in &keys {
                    pipe.add_command(get_cmd(key));
                }
                match pipe.query::<Reply>(conn) {
                    // A key of another type: read again, nil for it (see `begin`).
                    Err(error) if is_wrong_type(&error) => {
                        self.connections.count_round_trip();
                        let mut pipe = cluster_pipe();
                        for key in &keys {
                            pipe.add_command(read_string_cmd(key));
                        }
                        pipe.query::<Reply>(conn)
                    }
                    other => other,
                }
            }
        })?;
        let values = replies(reply, keys.len(), "MGET")
            .map_err(|error| self.connections.error("MGET", error))?;
        Ok(values.into_iter().map(to_value).collect())
    }

    fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()> {
        let cmd = set_cmd(self.origin, key, &value, ttl)?;
        self.connections
            .run("SET", |conn| query_cmd::<Reply>(conn, &cmd))
            .map(drop)
    }

    fn replace_if(
        &self,
        key: &str,
        seen: Option<&Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<HeldLock<'_>>,
    ) -> Result<bool> {
        self.replace(key, seen, value, ttl, release)
    }

    /// One pipeline of compare-and-set script calls (see `batch`).
    fn replace_if_many(&self, writes: Vec<ReplaceIf<'_>>) -> Vec<Result<bool>> {
        self.replace_many(writes)
    }

    fn delete_many(&self, keys: &[&str]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let cmds = delete_cmds(self.origin, keys, self.connections.is_cluster());
        self.connections
            .run("DEL", |conn| match conn {
                Conn::Single(conn) => {
                    let mut pipe = redis::pipe();
                    for cmd in cmds {
                        pipe.add_command(cmd);
                    }
                    pipe.query::<Reply>(conn)
                }
                Conn::Cluster(conn) => {
                    let mut pipe = cluster_pipe();
                    for cmd in cmds {
                        pipe.add_command(cmd);
                    }
                    pipe.query::<Reply>(conn)
                }
            })
            .map(drop)
    }

    fn unlock(&self, key: &str, token: u64) -> Result<()> {
        let key = keys::redis_key(key);
        let token = token.to_string();
        self.eval::<i64>("unlock", &scripts::UNLOCK, &[&key], &[token.as_bytes()])
            .map(drop)
    }

    fn begin_load(
        &self,
        lock: Option<LockRequest<'_>>,
        version_keys: &[&str],
        new_versions: &[Value],
        entry_key: &str,
    ) -> Result<LoadStart> {
        let single = !self.connections.is_cluster();
        let request = BeginLoad::new(lock, version_keys, new_versions, entry_key, single)?;
        let reply = self.connections.run("begin_load", |conn| match conn {
            Conn::Single(conn) => request.pipeline().query::<Reply>(conn),
            Conn::Cluster(conn) => {
                let mut pipe = cluster_pipe();
                for cmd in &request.cmds {
                    pipe.add_command(cmd.clone());
                }
                match pipe.query::<Reply>(conn) {
                    Err(error) if is_wrong_type(&error) => {
                        self.connections.count_round_trip();
                        let mut pipe = cluster_pipe();
                        for cmd in request.recovery_cmds() {
                            pipe.add_command(cmd);
                        }
                        request.recovered(pipe.query::<Reply>(conn)?)
                    }
                    other => other,
                }
            }
        })?;
        let found = request
            .read(reply)
            .map_err(|error| self.connections.error("begin_load", error))?;
        self.mend(&request, found)
    }

    fn server_stats(&self) -> Result<ServerStats> {
        self.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_does_not_connect() {
        // Port 1 has no server; opening must still succeed at once.
        let backend = RedisBackend::open("redis://127.0.0.1:1/", &ConnectOptions::default());
        assert!(backend.is_ok());
        assert_eq!(backend.unwrap().round_trips(), 0);
    }
}
