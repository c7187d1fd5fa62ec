//! The request of `begin_load` and how its answer is read, shared by the
//! blocking and the async sides of the Redis backend.
//!
//! Commands in order: `SET lock token NX PX ttl` (if a lock is asked for),
//! `SET version candidate NX` per version key, then the reads of the versions
//! and the entry: one `MGET` on one server, a `GET` per key on a cluster.
//!
//! A version key that reads as nil after its `SET NX` holds another type (a
//! list, a hash, a set: `SET NX` leaves it, `MGET` reads it as nil) or was
//! deleted in between: it is mended, one script call per such key (see
//! `scripts::MEND_VERSION`), so that a key of the wrong type costs one extra
//! round trip once instead of a miss on every call.
//!
//! On a cluster the reads are `GET`s, and a `GET` of a key of another type
//! fails the whole pipeline with `WRONGTYPE`: the reads are then made again
//! with `scripts::READ_STRING` (nil for such a key), with a `GET` of the lock
//! to learn whether the first pipeline took it ([`BeginLoad::recovery_cmds`]).

use std::borrow::Cow;

use bytes::Bytes;
use redis::Value as Reply;

use super::write::{bytes_of, ttl_ms};
use super::{keys, redis_keys, replies, scripts, to_value};
use crate::backend::{LoadStart, LockRequest, Value};
use crate::{Error, ErrorKind, Result};

/// One `begin_load`, ready to send.
pub(super) struct BeginLoad<'a> {
    /// The commands, in order.
    pub(super) cmds: Vec<redis::Cmd>,
    pub(super) lock: Option<(Cow<'a, str>, LockRequest<'a>)>,
    pub(super) versions: Vec<Cow<'a, str>>,
    pub(super) candidates: Vec<&'a Bytes>,
    /// The entry's Redis key.
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
    pub(super) fn read(&self, reply: Reply) -> redis::RedisResult<Found> {
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
    pub(super) fn start(&self, locked: bool, reads: Vec<Reply>) -> Found {
        let mut reads = reads.into_iter();
        let versions = self
            .versions
            .iter()
            .map(|_| reads.next().and_then(to_value))
            .collect();
        let entry = reads.next().and_then(to_value);
        Found {
            locked,
            versions,
            entry,
        }
    }

    /// On a cluster, after `WRONGTYPE` failed the pipeline (its `SET`s ran):
    /// `GET` of the lock (if one was asked for), then the reads again, each
    /// nil for a key of another type.
    pub(super) fn recovery_cmds(&self) -> Vec<redis::Cmd> {
        let lock = self.lock.as_ref().map(|(key, _)| get_cmd(key));
        let reads = self
            .versions
            .iter()
            .chain(std::iter::once(&self.entry))
            .map(|key| read_string_cmd(key));
        lock.into_iter().chain(reads).collect()
    }

    /// The answer to [`recovery_cmds`](Self::recovery_cmds), in the shape of
    /// the pipeline's answer: the lock taken if it now holds our token.
    pub(super) fn recovered(&self, reply: Reply) -> redis::RedisResult<Reply> {
        let expected = usize::from(self.lock.is_some()) + self.versions.len() + 1;
        let mut items = replies(reply, expected, "begin_load (reread)")?.into_iter();
        let mut shaped = Vec::with_capacity(self.cmds.len());
        if let Some((_, lock)) = &self.lock {
            let holds = items
                .next()
                .and_then(to_value)
                .is_some_and(|value| value.as_bytes() == Some(lock.token.to_string().as_bytes()));
            shaped.push(if holds { Reply::Okay } else { Reply::Nil });
        }
        shaped.extend(self.versions.iter().map(|_| Reply::Nil));
        shaped.extend(items);
        Ok(Reply::Array(shaped))
    }

    /// The candidate version of version key `index`.
    pub(super) fn candidate(&self, index: usize) -> &Bytes {
        self.candidates[index]
    }
}

/// What a `begin_load` read, before its unreadable version keys are mended.
pub(super) struct Found {
    locked: bool,
    /// `None`: the key holds no string (see [`Found::unreadable`]).
    versions: Vec<Option<Value>>,
    entry: Option<Value>,
}

impl Found {
    /// The indices of the version keys that read as nil: they hold another
    /// type, or were deleted since their `SET NX`.
    pub(super) fn unreadable(&self) -> Vec<usize> {
        (0..self.versions.len())
            .filter(|&index| self.versions[index].is_none())
            .collect()
    }

    /// Takes the answer of `MEND_VERSION` for version key `index`: the type
    /// that was there (`none`: absent) and the version the key holds now.
    pub(super) fn mended(&mut self, index: usize, reply: Reply) -> redis::RedisResult<String> {
        let (kind, version) = match reply {
            Reply::Array(items) if items.len() == 2 => {
                let mut items = items.into_iter();
                let kind = items.next().and_then(to_value);
                let version = items.next().and_then(to_value);
                (kind, version)
            }
            _ => (None, None),
        };
        match (kind, version) {
            (Some(Value::Bytes(kind)), Some(version)) => {
                self.versions[index] = Some(version);
                Ok(String::from_utf8_lossy(&kind).into_owned())
            }
            _ => Err(redis::RedisError::from((
                redis::ErrorKind::Parse,
                "unexpected reply",
                "a version key's mend: expected its type and its version".to_owned(),
            ))),
        }
    }

    /// What the caller gets: each version key's value, the candidate where
    /// one is still missing (not mended: it is as good as any).
    pub(super) fn into_start(self, request: &BeginLoad<'_>) -> LoadStart {
        let versions = self
            .versions
            .into_iter()
            .enumerate()
            .map(|(index, version)| {
                version.unwrap_or_else(|| Value::Bytes(request.candidate(index).clone()))
            })
            .collect();
        LoadStart::new(self.locked, versions, self.entry)
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

/// `EVAL` of `scripts::READ_STRING`: the key's string, or nil for another type.
pub(super) fn read_string_cmd(key: &str) -> redis::Cmd {
    scripts::READ_STRING.call(true, &[key], &[])
}

/// Whether `error` is (or, for a pipeline, holds) a `WRONGTYPE` answer: a
/// `GET` of a key that holds a list, a hash, a set...
pub(super) fn is_wrong_type(error: &redis::RedisError) -> bool {
    error.code() == Some("WRONGTYPE") || error.to_string().contains("WRONGTYPE")
}
