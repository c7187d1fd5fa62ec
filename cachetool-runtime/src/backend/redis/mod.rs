//! The Redis backend: one server (`redis://`, `rediss://`, `redis+unix://`) or
//! a Redis Cluster (`redis+cluster://`), with every trait method one round trip.
//!
//! | method | standalone | cluster |
//! |---|---|---|
//! | `get_many` | `MGET` | a pipeline of `GET`s, one per node, all sent before any answer is read |
//! | `set` | `SET [PX]` | the same |
//! | `replace_if` | `EVALSHA` of a compare-and-set script, which also releases the entry's lock if this thread took it in `begin_load` | the same, without the lock (another slot) |
//! | `unlock` | `EVALSHA` of a compare-and-delete script; nothing if `replace_if` released the lock | `EVALSHA` |
//! | `delete_many` | `DEL` | a pipeline of `DEL`s, one per node |
//! | `begin_load` | a pipeline: `SET lock NX PX`, `SET NX` per version, `MGET` | the same with `GET`s, one pipeline per node |
//!
//! Keys longer than 1 KiB are hashed (see `keys`). Values are stored as bytes.

mod conn;
mod held;
mod keys;
mod scripts;
mod url;

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use redis::cluster::cluster_pipe;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::Value as Reply;

use self::conn::{Conn, Connections};
use self::scripts::Script;
use super::{Backend, ConnectOptions, LoadStart, LockRequest, ServerStats, Value};
use crate::{Error, ErrorKind, Result};

/// Keeps a [`Cache`](crate::Cache)'s entries, tag versions and locks in Redis
/// or a Redis Cluster.
///
/// Made by [`CacheBuilder::redis`](crate::CacheBuilder::redis) or
/// [`Cache::from_url`](crate::Cache::from_url); open one yourself to share it
/// between caches of different prefixes, or to read [`round_trips`](Self::round_trips).
///
/// Every [`Backend`] method is one round trip. On one server, a
/// [`replace_if`](Backend::replace_if) on the thread that took the entry's
/// lock in [`begin_load`](Backend::begin_load) also releases that lock (by
/// compare-and-delete, in the same script call), and the
/// [`unlock`](Backend::unlock) that follows sends nothing: a locked miss of a
/// [`Cache`](crate::Cache) is 3 round trips.
pub struct RedisBackend {
    connections: Connections,
    /// The database whose key count `server_stats` reports.
    db: i64,
}

impl RedisBackend {
    /// The longest key, in bytes, stored as it is; a longer one is stored as
    /// `{prefix}:#xxh3-128:{32 hex digits of the xxh3-128 of the whole key}`.
    pub const MAX_KEY_LEN: usize = keys::MAX_KEY_LEN;

    /// A backend for `url` (see [`CacheBuilder::redis`](crate::CacheBuilder::redis)
    /// for the forms). Only reads the URL: connections open on first use.
    pub fn open(url: &str, options: &ConnectOptions) -> Result<RedisBackend> {
        let target = url::parse(url)?;
        let db = match &target {
            url::Target::Single(info) => info.redis_settings().db(),
            url::Target::Cluster(_) => 0,
        };
        Ok(RedisBackend {
            connections: Connections::new(target, *options)?,
            db,
        })
    }

    /// How many requests this backend has sent since it was opened: one per
    /// trait method call that reached the point of sending (a failed connect
    /// counts none), plus one when a script had to be sent again as `EVAL`
    /// after a `NOSCRIPT` answer. On a cluster, one call that talks to several
    /// nodes at once (all requests sent before any answer is read) counts one.
    pub fn round_trips(&self) -> u64 {
        self.connections.round_trips()
    }

    /// `127.0.0.1:6379`, a socket path, or `cluster host:port,...`.
    pub fn server(&self) -> &str {
        self.connections.server()
    }

    /// Runs `script` on `key`: `EVALSHA`, then `EVAL` if the server lacks it.
    fn eval(&self, operation: &str, script: &Script, keys: &[&str], args: &[&[u8]]) -> Result<i64> {
        let attempt = self.connections.run(operation, |conn| {
            query_cmd::<i64>(conn, &script.call(false, keys, args))
        });
        match attempt {
            Err(error) if is_noscript(&error) => self.connections.run(operation, |conn| {
                query_cmd::<i64>(conn, &script.call(true, keys, args))
            }),
            other => other,
        }
    }

    /// Identifies this backend in the thread's held locks.
    fn id(&self) -> usize {
        self as *const RedisBackend as usize
    }
}

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

    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Value>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = redis_keys(keys);
        let reply = self.connections.run("MGET", |conn| match conn {
            Conn::Single(conn) => {
                let mut cmd = redis::cmd("MGET");
                for key in &keys {
                    cmd.arg(key.as_ref());
                }
                cmd.query::<Reply>(conn)
            }
            Conn::Cluster(conn) => {
                let mut pipe = cluster_pipe();
                for key in &keys {
                    pipe.cmd("GET").arg(key.as_ref());
                }
                pipe.query::<Reply>(conn)
            }
        })?;
        let values = replies(reply, keys.len(), "MGET")
            .map_err(|error| self.connections.error("MGET", error))?;
        Ok(values.into_iter().map(to_value).collect())
    }

    fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()> {
        let bytes = bytes_of(&value)?;
        let key = keys::redis_key(key);
        let mut cmd = redis::cmd("SET");
        cmd.arg(key.as_ref()).arg(&bytes[..]);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl_ms(ttl));
        }
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
    ) -> Result<bool> {
        let bytes = bytes_of(&value)?;
        let seen = seen.map(bytes_of).transpose()?;
        let (mode, seen, seen_len) = scripts::seen_args(seen);
        let ttl = ttl.map_or(0, ttl_ms).to_string();
        // On one server, the lock this thread took for the entry goes in the same call.
        let lock = match self.connections.is_cluster() {
            false => held::lock_of(self.id(), key),
            true => None,
        };
        let entry_key = keys::redis_key(key);
        let lock_key = lock.as_ref().map(|(lock, _)| keys::redis_key(lock));
        let token = lock
            .as_ref()
            .map_or(String::new(), |(_, token)| token.to_string());
        let mut keys = vec![entry_key.as_ref()];
        keys.extend(lock_key.as_deref());
        let args: [&[u8]; 6] = [
            mode,
            seen,
            seen_len.as_bytes(),
            bytes,
            ttl.as_bytes(),
            token.as_bytes(),
        ];
        let stored = self.eval("replace_if", &scripts::REPLACE_IF, &keys, &args)?;
        if let Some((lock, token)) = &lock {
            held::released(self.id(), lock, *token);
        }
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
        if held::forget(self.id(), key, token) {
            return Ok(()); // Released along with the store.
        }
        let key = keys::redis_key(key);
        let token = token.to_string();
        self.eval("unlock", &scripts::UNLOCK, &[&key], &[token.as_bytes()])
            .map(drop)
    }

    fn begin_load(
        &self,
        lock: Option<LockRequest<'_>>,
        version_keys: &[&str],
        new_versions: &[Value],
        entry_key: &str,
    ) -> Result<LoadStart> {
        if version_keys.len() != new_versions.len() {
            return Err(Error::new(
                ErrorKind::Backend,
                "begin_load needs one candidate version per version key",
            ));
        }
        let candidates = new_versions
            .iter()
            .map(bytes_of)
            .collect::<Result<Vec<_>>>()?;
        let versions = redis_keys(version_keys);
        let entry = keys::redis_key(entry_key);
        let lock_key = lock.map(|lock| keys::redis_key(lock.key));
        let single = !self.connections.is_cluster();
        // Commands in order: [lock], SET NX per version, then the reads.
        let mut cmds = Vec::with_capacity(2 + 2 * versions.len());
        if let (Some(lock), Some(lock_key)) = (&lock, &lock_key) {
            let mut cmd = redis::cmd("SET");
            cmd.arg(lock_key.as_ref())
                .arg(lock.token.to_string())
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms(lock.ttl));
            cmds.push(cmd);
        }
        for (key, candidate) in versions.iter().zip(&candidates) {
            let mut cmd = redis::cmd("SET");
            cmd.arg(key.as_ref()).arg(&candidate[..]).arg("NX");
            cmds.push(cmd);
        }
        if single {
            let mut cmd = redis::cmd("MGET");
            for key in versions.iter().chain(std::iter::once(&entry)) {
                cmd.arg(key.as_ref());
            }
            cmds.push(cmd);
        } else {
            for key in versions.iter().chain(std::iter::once(&entry)) {
                let mut cmd = redis::cmd("GET");
                cmd.arg(key.as_ref());
                cmds.push(cmd);
            }
        }
        let count = cmds.len();
        let reply = self.connections.run("begin_load", |conn| match conn {
            Conn::Single(conn) => {
                let mut pipe = redis::pipe();
                for cmd in &cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.query::<Reply>(conn)
            }
            Conn::Cluster(conn) => {
                let mut pipe = cluster_pipe();
                for cmd in &cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.query::<Reply>(conn)
            }
        })?;
        let bad = |error| self.connections.error("begin_load", error);
        let mut items = replies(reply, count, "begin_load")
            .map_err(bad)?
            .into_iter();
        let locked = match lock {
            Some(_) => matches!(items.next(), Some(Reply::Okay | Reply::SimpleString(_))),
            None => false,
        };
        let mut reads: Vec<Reply> = items.skip(versions.len()).collect();
        if single {
            reads = match reads.pop() {
                Some(mget) => replies(mget, versions.len() + 1, "MGET").map_err(bad)?,
                None => Vec::new(),
            };
        }
        let mut reads = reads.into_iter();
        let versions = candidates
            .iter()
            .map(|candidate| {
                // Absent right after SET NX only if evicted in between: use ours.
                reads
                    .next()
                    .and_then(to_value)
                    .unwrap_or_else(|| Value::Bytes((*candidate).clone()))
            })
            .collect();
        let entry = reads.next().and_then(to_value);
        if let (true, Some(lock)) = (locked, &lock) {
            held::taken(self.id(), entry_key, lock.key, lock.token);
        }
        Ok(LoadStart {
            locked,
            versions,
            entry,
        })
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
