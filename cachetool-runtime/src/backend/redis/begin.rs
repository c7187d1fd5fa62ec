//! The request of `begin_load` and how its answer is read, shared by the
//! blocking and the async sides of the Redis backend.
//!
//! Commands in order: `SET lock token NX PX ttl` (if a lock is asked for),
//! `SET version candidate NX` per version key, then the reads of the versions
//! and the entry: one `MGET` on one server, a `GET` per key on a cluster.

use std::borrow::Cow;

use bytes::Bytes;
use redis::Value as Reply;

use super::{bytes_of, keys, redis_keys, replies, to_value, ttl_ms};
use crate::backend::{LoadStart, LockRequest, Value};
use crate::{Error, ErrorKind, Result};

/// One `begin_load`, ready to send.
pub(super) struct BeginLoad<'a> {
    /// The commands, in order.
    pub(super) cmds: Vec<redis::Cmd>,
    pub(super) lock: Option<(Cow<'a, str>, LockRequest<'a>)>,
    pub(super) versions: Vec<Cow<'a, str>>,
    pub(super) candidates: Vec<&'a Bytes>,
    /// The entry's Redis key (the async cluster side sends its `GET` itself).
    #[cfg(feature = "tokio")]
    pub(super) entry: Cow<'a, str>,
    single: bool,
}

impl<'a> BeginLoad<'a> {
    pub(super) fn new(
        lock: Option<LockRequest<'a>>,
        version_keys: &[&'a str],
        new_versions: &'a [Value],
        entry_key: &'a str,
        single: bool,
    ) -> Result<BeginLoad<'a>> {
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
        let lock = lock.map(|lock| (keys::redis_key(lock.key), lock));
        let mut cmds = Vec::with_capacity(2 + 2 * versions.len());
        if let Some((key, lock)) = &lock {
            cmds.push(lock_cmd(key, lock));
        }
        for (key, candidate) in versions.iter().zip(&candidates) {
            cmds.push(version_cmd(key, candidate));
        }
        if single {
            let keys = versions.iter().chain(std::iter::once(&entry));
            cmds.push(mget_cmd(keys.map(|key| key.as_ref())));
        } else {
            for key in versions.iter().chain(std::iter::once(&entry)) {
                cmds.push(get_cmd(key));
            }
        }
        Ok(BeginLoad {
            cmds,
            lock,
            versions,
            candidates,
            #[cfg(feature = "tokio")]
            entry,
            single,
        })
    }

    /// The commands as one pipeline (one server).
    pub(super) fn pipeline(&self) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        for cmd in &self.cmds {
            pipe.add_command(cmd.clone());
        }
        pipe
    }

    /// Reads the answer: one reply per command, in order.
    pub(super) fn read(&self, reply: Reply) -> redis::RedisResult<LoadStart> {
        let mut items = replies(reply, self.cmds.len(), "begin_load")?.into_iter();
        let locked = match self.lock {
            Some(_) => is_ok(items.next()),
            None => false,
        };
        let mut reads: Vec<Reply> = items.skip(self.versions.len()).collect();
        if self.single {
            reads = match reads.pop() {
                Some(mget) => replies(mget, self.versions.len() + 1, "MGET")?,
                None => Vec::new(),
            };
        }
        Ok(self.start(locked, reads))
    }

    /// What was found, from whether the lock was taken and the reads of the
    /// versions then the entry.
    pub(super) fn start(&self, locked: bool, reads: Vec<Reply>) -> LoadStart {
        let mut reads = reads.into_iter();
        let versions = self
            .candidates
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
        LoadStart {
            locked,
            versions,
            entry,
        }
    }
}

/// Whether a `SET ... NX` stored.
pub(super) fn is_ok(reply: Option<Reply>) -> bool {
    matches!(reply, Some(Reply::Okay | Reply::SimpleString(_)))
}

/// `SET lock token NX PX ttl`.
pub(super) fn lock_cmd(key: &str, lock: &LockRequest<'_>) -> redis::Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key)
        .arg(lock.token.to_string())
        .arg("NX")
        .arg("PX")
        .arg(ttl_ms(lock.ttl));
    cmd
}

/// `SET version candidate NX`.
pub(super) fn version_cmd(key: &str, candidate: &Bytes) -> redis::Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(&candidate[..]).arg("NX");
    cmd
}

/// `MGET key...`, its buffers sized up front: growing them cost more than the
/// rest of the command on every hit.
pub(super) fn mget_cmd<'k>(keys: impl Iterator<Item = &'k str> + Clone) -> redis::Cmd {
    let (count, bytes) = keys
        .clone()
        .fold((1, 4), |(count, bytes), key| (count + 1, bytes + key.len()));
    let mut cmd = redis::Cmd::with_capacity(count, bytes);
    cmd.arg("MGET");
    for key in keys {
        cmd.arg(key);
    }
    cmd
}

/// `GET key`.
pub(super) fn get_cmd(key: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("GET");
    cmd.arg(key);
    cmd
}
