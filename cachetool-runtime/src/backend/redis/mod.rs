//! The Redis backend: one server (`redis://`, `rediss://`, `redis+unix://`) or
//! a Redis Cluster (`redis+cluster://`), with every trait method one round trip.
//!
//! | method | standalone | cluster |
//! |---|---|---|
//! | `get_many` | `MGET` | a pipeline of `GET`s, one per node, all sent before any answer is read |
//! | `set` | `SET [PX]` | the same |
//! | `replace_if` | `EVALSHA` of a compare-and-set script, which also releases the lock it is handed (compare-and-delete) | a pipeline of that `EVALSHA` (without the lock) and the lock's compare-and-delete (`EVAL`), one per node |
//! | `unlock` | `EVALSHA` of a compare-and-delete script | the same |
//! | `delete_many` | `DEL` | a pipeline of `DEL`s, one per node |
//! | `begin_load` | a pipeline: `SET lock NX PX`, `SET NX` per version, `MGET` | the same with `GET`s, one pipeline per node |
//!
//! Keys longer than 1 KiB are hashed (see `keys`). Values are stored as bytes.

mod admin;
#[cfg(feature = "tokio")]
mod aio;
#[cfg(feature = "tokio")]
mod aio_conn;
mod backoff;
mod begin;
mod conn;
mod keys;
mod scripts;
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

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use redis::cluster::cluster_pipe;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::Value as Reply;

use self::begin::{get_cmd, is_wrong_type, mget_cmd, read_string_cmd, BeginLoad, Found};
use self::conn::{Conn, Connections};
use self::scripts::Script;
use super::{Backend, ConnectOptions, HeldLock, LoadStart, LockRequest, ServerStats, Value};
use crate::{Error, ErrorKind, Result};

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
}

impl RedisBackend {
    /// The longest key, in bytes, stored as it is; a longer one is stored as
    /// `{prefix}:#xxh3-128:{32 hex digits of the xxh3-128 of the whole key}`.
    pub const MAX_KEY_LEN: usize = keys::MAX_KEY_LEN;

    /// A backend for `url` (see [`CacheBuilder::redis`](crate::CacheBuilder::redis)
    /// for the forms). Only reads the URL and checks `options` (a zero timeout
    /// is a [`Config`](ErrorKind::Config) error): connections open on first use.
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

    /// On a cluster, the store and the release of `lock` (in another slot,
    /// likely on another node) as one pipeline: both requests are written
    /// before either answer is read. The release is an `EVAL`, which never
    /// meets `NOSCRIPT`; if the store does, it is sent again alone as `EVAL`.
    fn replace_if_releasing_on_cluster(
        &self,
        keys: &[&str],
        args: &[&[u8]],
        lock: HeldLock<'_>,
    ) -> Result<i64> {
        let lock_key = keys::redis_key(lock.key);
        let token = lock.token.to_string();
        let store = scripts::REPLACE_IF.call(false, keys, args);
        let release = scripts::UNLOCK.call(true, &[&lock_key], &[token.as_bytes()]);
        let attempt = self.connections.run("replace_if", |conn| {
            let mut pipe = cluster_pipe();
            pipe.add_command(store).add_command(release);
            match conn {
                Conn::Cluster(conn) => pipe.query::<(i64, i64)>(conn),
                Conn::Single(_) => unreachable!("a cluster backend has cluster connections"),
            }
        });
        match attempt {
            Ok((stored, _)) => Ok(stored),
            Err(error) if is_noscript(&error) => self.connections.run("replace_if", |conn| {
                query_cmd::<i64>(conn, &scripts::REPLACE_IF.call(true, keys, args))
            }),
            Err(error) => Err(error),
        }
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

/// The bytes of a value to store; a backend in another process cannot keep objects.
fn bytes_of(value: &Value) -> Result<&Bytes> {
    match value {
        Value::Bytes(bytes) => Ok(bytes),
        Value::Object(_) => Err(Error::new(
            ErrorKind::Codec,
            "the redis backend stores bytes, not objects",
        )),
    }
}

/// A TTL in whole milliseconds for `PX`: at least 1 (0 is an error in Redis).
/// What a `replace_if` call sends, the same for the sync and the async side:
/// the entry's key, the lock's key when the lock goes in the same script call
/// (one server; on a cluster it is in another slot), and the script's `ARGV`.
fn replace_if_parts<'a>(
    key: &'a str,
    seen: Option<&'a Value>,
    value: &'a Value,
    ttl: Option<Duration>,
    release: Option<HeldLock<'a>>,
    cluster: bool,
) -> Result<(
    Cow<'a, str>,
    Option<Cow<'a, str>>,
    scripts::ReplaceIfArgs<'a>,
)> {
    let bytes = bytes_of(value)?;
    let seen = seen.map(bytes_of).transpose()?;
    let same_call = release.filter(|_| !cluster);
    let args = scripts::ReplaceIfArgs::new(
        seen,
        bytes,
        ttl.map_or(0, ttl_ms),
        same_call.map(|lock| lock.token),
    );
    let lock_key = same_call.map(|lock| keys::redis_key(lock.key));
    Ok((keys::redis_key(key), lock_key, args))
}

/// `SET key value [PX ttl]`.
fn set_cmd(key: &str, value: &Value, ttl: Option<Duration>) -> Result<redis::Cmd> {
    let bytes = bytes_of(value)?;
    let mut cmd = redis::cmd("SET");
    cmd.arg(keys::redis_key(key).as_ref()).arg(&bytes[..]);
    if let Some(ttl) = ttl {
        cmd.arg("PX").arg(ttl_ms(ttl));
    }
    Ok(cmd)
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, 1 << 53)
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
        let cmd = set_cmd(key, &value, ttl)?;
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
        let (entry_key, same_call, args) = replace_if_parts(
            key,
            seen,
            &value,
            ttl,
            release,
            self.connections.is_cluster(),
        )?;
        let args = args.args();
        let stored: i64 = match (release, same_call) {
            (None, _) => self.eval("replace_if", &scripts::REPLACE_IF, &[&entry_key], &args)?,
            (Some(lock), None) => {
                self.replace_if_releasing_on_cluster(&[&entry_key], &args, lock)?
            }
            (Some(_), Some(lock_key)) => self.eval(
                "replace_if",
                &scripts::REPLACE_IF,
                &[&entry_key, &lock_key],
                &args,
            )?,
        };
        Ok(stored == 1)
    }

    fn delete_many(&self, keys: &[&str]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys = redis_keys(keys);
        self.connections
            .run("DEL", |conn| match conn {
                Conn::Single(conn) => {
                    let mut cmd = redis::cmd("DEL");
                    for key in &keys {
                        cmd.arg(key.as_ref());
                    }
                    cmd.query::<Reply>(conn)
                }
                Conn::Cluster(conn) => {
                    let mut pipe = cluster_pipe();
                    for key in &keys {
                        pipe.cmd("DEL").arg(key.as_ref());
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
        let reply = self.connections.run("INFO", |conn| match conn {
            Conn::Single(conn) => redis::cmd("INFO").query::<Reply>(conn),
            Conn::Cluster(conn) => conn.route_command(
                &redis::cmd("INFO"),
                RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None)),
            ),
        })?;
        let mut texts = Vec::new();
        collect_texts(reply, &mut texts);
        let mut stats = ServerStats::default();
        for text in &texts {
            add_info(&mut stats, text, self.db);
        }
        Ok(stats)
    }
}

/// Every string in a reply: one `INFO` text per server.
fn collect_texts(reply: Reply, texts: &mut Vec<String>) {
    match reply {
        Reply::BulkString(bytes) => texts.push(String::from_utf8_lossy(&bytes).into_owned()),
        Reply::VerbatimString { text, .. } | Reply::SimpleString(text) => texts.push(text),
        Reply::Array(items) | Reply::Set(items) => {
            for item in items {
                collect_texts(item, texts);
            }
        }
        Reply::Map(pairs) => {
            for (_, value) in pairs {
                collect_texts(value, texts);
            }
        }
        _ => {}
    }
}

/// Adds one server's `INFO` to `stats`.
fn add_info(stats: &mut ServerStats, info: &str, db: i64) {
    stats.servers += 1;
    let db_field = format!("db{db}");
    for line in info.lines() {
        let Some((name, value)) = line.trim().split_once(':') else {
            continue;
        };
        let number = || value.trim().parse::<u64>().unwrap_or(0);
        match name {
            "keyspace_hits" => stats.hits += number(),
            "keyspace_misses" => stats.misses += number(),
            "used_memory" => stats.memory_bytes += number(),
            _ if name == db_field => {
                let keys = value
                    .split(',')
                    .find_map(|field| field.strip_prefix("keys="))
                    .and_then(|keys| keys.parse::<u64>().ok());
                stats.items += keys.unwrap_or(0);
            }
            _ => {}
        }
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

    #[test]
    fn info_is_parsed() {
        let mut stats = ServerStats::default();
        add_info(
            &mut stats,
            "# Stats\r\nkeyspace_hits:7\r\nkeyspace_misses:3\r\n# Memory\r\nused_memory:1000\r\n\
             # Keyspace\r\ndb0:keys=5,expires=1,avg_ttl=0\r\ndb1:keys=9,expires=0\r\n",
            0,
        );
        assert_eq!(
            (
                stats.servers,
                stats.hits,
                stats.misses,
                stats.memory_bytes,
                stats.items
            ),
            (1, 7, 3, 1000, 5)
        );
    }

    #[test]
    fn ttls_are_whole_milliseconds_of_at_least_one() {
        assert_eq!(ttl_ms(Duration::ZERO), 1);
        assert_eq!(ttl_ms(Duration::from_micros(1500)), 1);
        assert_eq!(ttl_ms(Duration::from_secs(2)), 2000);
    }
}
