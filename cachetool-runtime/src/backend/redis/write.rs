//! Writes: `SET`, `DEL`, and the compare-and-set script of `replace_if` with
//! the release of the lock it is handed (in the same script call on one
//! server; on a cluster, where the lock is in another slot, in the same
//! pipeline).
//!
//! Each write of an entry, a tag version or the epoch also publishes its
//! announcement on the prefix's channel (see `changes/`), in the same call,
//! after the write: `SET` and `DEL` become a script that writes, then
//! publishes; the compare-and-set script publishes when it stores.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use redis::cluster::cluster_pipe;

use super::conn::Conn;
use super::scripts;
use super::{is_noscript, keys, query_cmd, RedisBackend};
use crate::backend::{HeldLock, Value};
use crate::changes;
use crate::{Error, ErrorKind, Result};

impl RedisBackend {
    /// See [`Backend::replace_if`](crate::Backend::replace_if).
    pub(super) fn replace(
        &self,
        key: &str,
        seen: Option<&Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<HeldLock<'_>>,
    ) -> Result<bool> {
        let (entry_key, same_call, args) = replace_if_parts(
            Some(self.origin),
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

/// The bytes of a value to store; a backend in another process cannot keep objects.
pub(super) fn bytes_of(value: &Value) -> Result<&Bytes> {
    match value {
        Value::Bytes(bytes) => Ok(bytes),
        Value::Object(_) => Err(Error::new(
            ErrorKind::Codec,
            "the redis backend stores bytes, not objects",
        )),
    }
}

/// What a `replace_if` call sends, the same for the sync and the async side:
/// the entry's key, the lock's key when the lock goes in the same script call
/// (one server; on a cluster it is in another slot), and the script's `ARGV`.
/// With `origin` (the backend's id) the script announces the change if it
/// stores; without, the caller announces it (`batch.rs`).
pub(super) fn replace_if_parts<'a>(
    origin: Option<u64>,
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
        origin.and_then(|origin| changes::announce_one(origin, key, None)),
    );
    let lock_key = same_call.map(|lock| keys::redis_key(lock.key));
    Ok((keys::redis_key(key), lock_key, args))
}

/// `SET key value [PX ttl]`; for a key of a namespace, the script that sets
/// it and publishes the change (`origin`: the backend's id).
pub(super) fn set_cmd(
    origin: u64,
    key: &str,
    value: &Value,
    ttl: Option<Duration>,
) -> Result<redis::Cmd> {
    let bytes = bytes_of(value)?;
    let redis_key = keys::redis_key(key);
    if let Some(publication) = changes::announce_one(origin, key, Some(bytes)) {
        let ttl_ms = ttl.map_or(0, ttl_ms).to_string();
        let args: [&[u8]; 4] = [
            bytes,
            ttl_ms.as_bytes(),
            publication.channel.as_bytes(),
            &publication.message,
        ];
        return Ok(scripts::SET_AND_PUBLISH.call(true, &[&redis_key], &args));
    }
    let mut cmd = redis::cmd("SET");
    cmd.arg(redis_key.as_ref()).arg(&bytes[..]);
    if let Some(ttl) = ttl {
        cmd.arg("PX").arg(ttl_ms(ttl));
    }
    Ok(cmd)
}

/// The commands that delete `keys` and publish the change. One server: one
/// script call per prefix among them (a cache's keys share one: one call,
/// one message), and a plain `DEL` of the keys of no namespace. A cluster:
/// one command per key (each key's slot may be on another node), each
/// script publishing its own key's change after deleting it, on that node:
/// a message sent for all keys from one node could overtake the deletes on
/// the others, and a reader would refill its local tier from a version not
/// yet deleted.
pub(super) fn delete_cmds(origin: u64, keys: &[&str], cluster: bool) -> Vec<redis::Cmd> {
    let plain: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|key| !changes::is_announced(key))
        .collect();
    let mut cmds = Vec::new();
    let deleted_and_published = |keys: &[&str], publication: &changes::Publication| {
        let redis_keys: Vec<Cow<'_, str>> = keys.iter().map(|key| keys::redis_key(key)).collect();
        let redis_keys: Vec<&str> = redis_keys.iter().map(|key| key.as_ref()).collect();
        let args: [&[u8]; 2] = [publication.channel.as_bytes(), &publication.message];
        scripts::DELETE_AND_PUBLISH.call(true, &redis_keys, &args)
    };
    if cluster {
        for key in keys {
            match changes::announce_one(origin, key, None) {
                Some(publication) => cmds.push(deleted_and_published(&[key], &publication)),
                None => {
                    let mut cmd = redis::cmd("DEL");
                    cmd.arg(keys::redis_key(key).as_ref());
                    cmds.push(cmd);
                }
            }
        }
        return cmds;
    }
    for (of_prefix, publication) in changes::announce_keys(origin, keys) {
        cmds.push(deleted_and_published(&of_prefix, &publication));
    }
    if !plain.is_empty() {
        let mut cmd = redis::cmd("DEL");
        for key in plain {
            cmd.arg(keys::redis_key(key).as_ref());
        }
        cmds.push(cmd);
    }
    cmds
}

/// A TTL in whole milliseconds for `PX`: at least 1 (0 is an error in Redis).
pub(super) fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, 1 << 53)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_whole_milliseconds_of_at_least_one() {
        assert_eq!(ttl_ms(Duration::ZERO), 1);
        assert_eq!(ttl_ms(Duration::from_micros(1500)), 1);
        assert_eq!(ttl_ms(Duration::from_secs(2)), 2000);
    }
}
