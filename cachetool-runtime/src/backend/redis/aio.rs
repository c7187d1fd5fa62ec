//! The Redis backend's native async side: [`AsyncBackend`] over the redis
//! crate's multiplexed connection (see `aio_conn`), sending the same commands
//! as the blocking side, one round trip per method, counted in the same
//! [`round_trips`](RedisBackend::round_trips).
//!
//! On a cluster, the redis crate's async pipelines must stay in one slot, so
//! a multi-key method sends one request per key (a `SET NX` and a `GET` of the
//! same version key go together), all at once before any answer is awaited:
//! one round trip to each node involved, counted as 1, as on the blocking side.

use std::future::Future;
use std::time::Duration;

use futures_util::future::{join, join3, join_all};
use redis::{FromRedisValue, RedisResult, Value as Reply};

use super::aio_conn::AsyncConn;
use super::begin::{
    get_cmd, is_ok, is_wrong_type, lock_cmd, mget_cmd, version_cmd, BeginLoad, Found,
};
use super::scripts::{self, Script};
use super::write::{delete_cmds, replace_if_parts, set_cmd};
use super::{is_noscript, keys, redis_keys, replies, to_value, RedisBackend, MEND};
use crate::backend::{
    AsyncBackend, BackendFuture, HeldLock, LoadStart, LockRequest, ReplaceIf, Value, WritesFuture,
};
use crate::Result;

pub(super) async fn query<T: FromRedisValue>(
    mut conn: AsyncConn,
    cmd: &redis::Cmd,
) -> RedisResult<T> {
    match &mut conn {
        AsyncConn::Single(conn) => cmd.query_async(conn).await,
        AsyncConn::Cluster(conn) => cmd.query_async(conn).await,
    }
}

pub(super) async fn query_pipe<T: FromRedisValue>(
    mut conn: AsyncConn,
    pipe: &redis::Pipeline,
) -> RedisResult<T> {
    match &mut conn {
        AsyncConn::Single(conn) => pipe.query_async(conn).await,
        AsyncConn::Cluster(conn) => pipe.query_async(conn).await,
    }
}

/// The reply of a read, nil for a key of another type (a cluster's reads are
/// `GET`s, each its own request: see `begin`).
async fn nil_if_wrong_type(read: impl Future<Output = RedisResult<Reply>>) -> RedisResult<Reply> {
    match read.await {
        Err(error) if is_wrong_type(&error) => Ok(Reply::Nil),
        other => other,
    }
}

/// Every reply of `requests`, or the first error.
async fn all<F: Future<Output = RedisResult<Reply>>>(
    requests: impl IntoIterator<Item = F>,
) -> RedisResult<Vec<Reply>> {
    join_all(requests).await.into_iter().collect()
}

impl RedisBackend {
    /// Runs `request` (one round trip) on the current runtime's connection.
    pub(super) async fn run_async<T, F: Future<Output = RedisResult<T>>>(
        &self,
        operation: &str,
        request: impl FnOnce(AsyncConn) -> F,
    ) -> Result<T> {
        let lease = self.async_connections.get(&self.connections).await?;
        self.connections.count_round_trip();
        match request(lease.conn.clone()).await {
            Ok(value) => {
                lease.settle(Ok(()));
                Ok(value)
            }
            Err(error) => {
                lease.settle(Err(&error));
                Err(self
                    .connections
                    .error_on(operation, error, lease.first_exchange))
            }
        }
    }

    /// Runs `script`: `EVALSHA`, then `EVAL` if the server lacks it.
    async fn eval_async<T: FromRedisValue>(
        &self,
        operation: &str,
        script: &Script,
        keys: &[&str],
        args: &[&[u8]],
    ) -> Result<T> {
        let by_sha = script.call(false, keys, args);
        match self
            .run_async(operation, |conn| async move { query(conn, &by_sha).await })
            .await
        {
            Err(error) if is_noscript(&error) => {
                let by_code = script.call(true, keys, args);
                self.run_async(operation, |conn| async move { query(conn, &by_code).await })
                    .await
            }
            other => other,
        }
    }

    async fn get_many_async(&self, keys: &[&str]) -> Result<Vec<Option<Value>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = &redis_keys(keys);
        let reply = self
            .run_async("MGET", |conn| async move {
                match conn {
                    AsyncConn::Single(_) => {
                        let cmd = mget_cmd(keys.iter().map(|key| key.as_ref()));
                        query(conn, &cmd).await
                    }
                    AsyncConn::Cluster(_) => {
                        let cmds: Vec<redis::Cmd> = keys.iter().map(|key| get_cmd(key)).collect();
                        let gets = cmds
                            .iter()
                            .map(|cmd| nil_if_wrong_type(query(conn.clone(), cmd)));
                        all(gets).await.map(Reply::Array)
                    }
                }
            })
            .await?;
        let values = replies(reply, keys.len(), "MGET")
            .map_err(|error| self.connections.error("MGET", error))?;
        Ok(values.into_iter().map(to_value).collect())
    }

    async fn set_async(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()> {
        let cmd = set_cmd(self.origin, key, &value, ttl)?;
        self.run_async(
            "SET",
            |conn| async move { query::<Reply>(conn, &cmd).await },
        )
        .await
        .map(drop)
    }

    async fn replace_if_async(
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
        let script = &scripts::REPLACE_IF;
        let stored: i64 = match (release, same_call) {
            (None, _) => {
                self.eval_async("replace_if", script, &[&entry_key], &args)
                    .await?
            }
            (Some(lock), None) => {
                // Another slot: the release (an EVAL, never NOSCRIPT) goes alongside.
                let lock_key = keys::redis_key(lock.key);
                let token = lock.token.to_string();
                let store = script.call(false, &[&entry_key], &args);
                let unlock = scripts::UNLOCK.call(true, &[&lock_key], &[token.as_bytes()]);
                let (store, unlock) = (&store, &unlock);
                let attempt = self
                    .run_async("replace_if", |conn| async move {
                        let (stored, _) = join(
                            query::<i64>(conn.clone(), store),
                            query::<i64>(conn, unlock),
                        )
                        .await;
                        stored
                    })
                    .await;
                match attempt {
                    Err(error) if is_noscript(&error) => {
                        let by_code = script.call(true, &[&entry_key], &args);
                        self.run_async(
                            "replace_if",
                            |conn| async move { query(conn, &by_code).await },
                        )
                        .await?
                    }
                    other => other?,
                }
            }
            // On one server, the lock goes in the same script call.
            (Some(_), Some(lock_key)) => {
                let keys = [entry_key.as_ref(), lock_key.as_ref()];
                self.eval_async("replace_if", script, &keys, &args).await?
            }
        };
        Ok(stored == 1)
    }

    async fn delete_many_async(&self, keys: &[&str]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let cmds = &delete_cmds(self.origin, keys, self.connections.is_cluster());
        self.run_async("DEL", |conn| async move {
            match conn {
                AsyncConn::Single(_) => {
                    let mut pipe = redis::pipe();
                    for cmd in cmds {
                        pipe.add_command(cmd.clone());
                    }
                    query_pipe::<Reply>(conn, &pipe).await.map(drop)
                }
                AsyncConn::Cluster(_) => all(cmds.iter().map(|cmd| query(conn.clone(), cmd)))
                    .await
                    .map(drop),
            }
        })
        .await
    }

    async fn unlock_async(&self, key: &str, token: u64) -> Result<()> {
        let key = keys::redis_key(key);
        let token = token.to_string();
        self.eval_async::<i64>("unlock", &scripts::UNLOCK, &[&key], &[token.as_bytes()])
            .await
            .map(drop)
    }

    async fn begin_load_async(
        &self,
        lock: Option<LockRequest<'_>>,
        version_keys: &[&str],
        new_versions: &[Value],
        entry_key: &str,
    ) -> Result<LoadStart> {
        let single = !self.connections.is_cluster();
        let request = BeginLoad::new(lock, version_keys, new_versions, entry_key, single)?;
        if single {
            let pipe = request.pipeline();
            let reply = self
                .run_async("begin_load", |conn| async move {
                    query_pipe::<Reply>(conn, &pipe).await
                })
                .await?;
            let found = request
                .read(reply)
                .map_err(|error| self.connections.error("begin_load", error))?;
            return self.mend_async(&request, found).await;
        }
        // A cluster: the lock; each version's SET NX and GET together (one slot);
        // the entry. All sent at once.
        let lock = request.lock.as_ref().map(|(key, lock)| lock_cmd(key, lock));
        let versions: Vec<redis::Pipeline> = request
            .versions
            .iter()
            .zip(&request.candidates)
            .map(|(key, candidate)| {
                let mut pipe = redis::pipe();
                pipe.add_command(version_cmd(key, candidate))
                    .ignore()
                    .add_command(get_cmd(key));
                pipe
            })
            .collect();
        let entry = get_cmd(&request.entry);
        let (locked, reads) = self
            .run_async("begin_load", |conn| async move {
                let take_lock = async {
                    match &lock {
                        Some(cmd) => query::<Reply>(conn.clone(), cmd).await.map(Some),
                        None => Ok(None),
                    }
                };
                let read_versions = all(versions.iter().map(|pipe| {
                    nil_if_wrong_type(async {
                        let (value,): (Reply,) = query_pipe(conn.clone(), pipe).await?;
                        Ok(value)
                    })
                }));
                let read_entry = nil_if_wrong_type(query::<Reply>(conn.clone(), &entry));
                let (locked, reads, entry) = join3(take_lock, read_versions, read_entry).await;
                let locked = is_ok(locked?);
                let mut reads = reads?;
                reads.push(entry?);
                Ok((locked, reads))
            })
            .await?;
        let found = request.start(locked, reads);
        self.mend_async(&request, found).await
    }

    /// [`mend`](RedisBackend::mend), awaited.
    async fn mend_async(&self, request: &BeginLoad<'_>, mut found: Found) -> Result<LoadStart> {
        for index in found.unreadable() {
            let key = &request.versions[index];
            let candidate = request.candidate(index);
            let reply: Reply = self
                .eval_async(MEND, &scripts::MEND_VERSION, &[key], &[&candidate[..]])
                .await?;
            let kind = found
                .mended(index, reply)
                .map_err(|error| self.connections.error(MEND, error))?;
            self.note_replaced(key, &kind);
        }
        Ok(found.into_start(request))
    }
}

impl AsyncBackend for RedisBackend {
    fn get_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, Vec<Option<Value>>> {
        Box::pin(self.get_many_async(keys))
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> BackendFuture<'a, ()> {
        Box::pin(self.set_async(key, value, ttl))
    }

    fn replace_if<'a>(
        &'a self,
        key: &'a str,
        seen: Option<&'a Value>,
        value: Value,
        ttl: Option<Duration>,
        release: Option<HeldLock<'a>>,
    ) -> BackendFuture<'a, bool> {
        Box::pin(self.replace_if_async(key, seen, value, ttl, release))
    }

    /// One pipeline on one server; on a cluster, one request per command,
    /// all in flight at once (see `batch`).
    fn replace_if_many<'a>(&'a self, writes: Vec<ReplaceIf<'a>>) -> WritesFuture<'a> {
        Box::pin(self.replace_many_async(writes))
    }

    fn delete_many<'a>(&'a self, keys: &'a [&'a str]) -> BackendFuture<'a, ()> {
        Box::pin(self.delete_many_async(keys))
    }

    fn unlock<'a>(&'a self, key: &'a str, token: u64) -> BackendFuture<'a, ()> {
        Box::pin(self.unlock_async(key, token))
    }

    fn begin_load<'a>(
        &'a self,
        lock: Option<LockRequest<'a>>,
        version_keys: &'a [&'a str],
        new_versions: &'a [Value],
        entry_key: &'a str,
    ) -> BackendFuture<'a, LoadStart> {
        Box::pin(self.begin_load_async(lock, version_keys, new_versions, entry_key))
    }
}
