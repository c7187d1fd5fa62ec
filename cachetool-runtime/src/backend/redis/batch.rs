//! `replace_if_many`: the compare-and-set of many entries in one round trip.
//!
//! One server: a pipeline of the compare-and-set script's `EVALSHA`s, each
//! releasing its own lock in the same call. A cluster (locks in other slots):
//! a cluster pipeline of those, without the locks, and of each lock's
//! compare-and-delete `EVAL`, one request per node, all written before any
//! answer is read; the async side sends one request per command, all in
//! flight at once. Either way one round trip. Stores answered `NOSCRIPT` are
//! sent again as `EVAL`, in one more.
//!
//! The change is announced (see `changes/`) once per prefix for the whole
//! pipeline on one server: a `PUBLISH` after the stores, naming every write
//! sent (one that did not store is announced too: a needless but harmless
//! invalidation elsewhere), after each exchange, so a store sent again by
//! code is announced after it too. On a cluster the stores run on several
//! nodes and no one command comes after them all: each store that stores
//! publishes its own change from its script.

use std::borrow::Cow;

use redis::cluster::cluster_pipe;
use redis::{RedisResult, Value as Reply};

use super::conn::Conn;
use super::scripts::{self, ReplaceIfArgs};
use super::write::replace_if_parts;
use super::{is_noscript, keys, RedisBackend};
use crate::backend::{each_failed, ReplaceIf};
use crate::changes;
use crate::{Error, ErrorKind, Result};

/// The operation's name in errors.
const OPERATION: &str = "replace_if_many";

/// The writes of one `replace_if_many`, as script calls, and their results so far.
struct Batch<'w> {
    /// Each write's result, once known.
    results: Vec<Option<Result<bool>>>,
    /// The compare-and-set call of each write that could be encoded.
    stores: Vec<StoreCall<'w>>,
    /// On a cluster, the lock of each write that holds one: its key and token.
    releases: Vec<(Cow<'w, str>, String)>,
    /// On one server, the backend's id for the `PUBLISH` after the stores
    /// (on a cluster, each store's script publishes its own change).
    announce_after: Option<u64>,
}

struct StoreCall<'w> {
    /// Its index among the writes.
    write: usize,
    /// The entry's key as the cache wrote it (before `keys::redis_key`).
    key: &'w str,
    /// The entry's key, then the lock's when it goes in the same call.
    keys: Vec<Cow<'w, str>>,
    args: ReplaceIfArgs<'w>,
}

impl<'w> Batch<'w> {
    fn new(origin: u64, writes: &'w [ReplaceIf<'_>], cluster: bool) -> Batch<'w> {
        let mut batch = Batch {
            results: writes.iter().map(|_| None).collect(),
            stores: Vec::with_capacity(writes.len()),
            releases: Vec::new(),
            announce_after: (!cluster).then_some(origin),
        };
        for (index, write) in writes.iter().enumerate() {
            let parts = replace_if_parts(
                cluster.then_some(origin),
                write.key,
                write.seen,
                &write.value,
                write.ttl,
                write.release,
                cluster,
            );
            let (entry_key, same_call, args) = match parts {
                Ok(parts) => parts,
                Err(error) => {
                    batch.results[index] = Some(Err(error));
                    continue;
                }
            };
            if let (Some(lock), None) = (write.release, &same_call) {
                let token = itoa::Buffer::new().format(lock.token).to_owned();
                batch.releases.push((keys::redis_key(lock.key), token));
            }
            let mut keys = vec![entry_key];
            keys.extend(same_call);
            batch.stores.push(StoreCall {
                write: index,
                key: write.key,
                keys,
                args,
            });
        }
        batch
    }

    /// The call of the stores `sent` (indices into `stores`), by SHA or by
    /// code, then, the first time, the releases of the locks in other slots.
    fn commands(&self, sent: &[usize], by_code: bool) -> Vec<redis::Cmd> {
        let stores = sent.iter().map(|&store| {
            let store = &self.stores[store];
            let keys: Vec<&str> = store.keys.iter().map(|key| key.as_ref()).collect();
            scripts::REPLACE_IF.call(by_code, &keys, &store.args.args())
        });
        let releases = self
            .releases
            .iter()
            .filter(|_| !by_code)
            .map(|(key, token)| {
                // `EVAL`: a release never meets `NOSCRIPT`.
                scripts::UNLOCK.call(true, &[key], &[token.as_bytes()])
            });
        let sent_keys: Vec<&str> = sent.iter().map(|&store| self.stores[store].key).collect();
        let announcements = self.announce_after.into_iter().flat_map(|origin| {
            changes::announce_keys(origin, &sent_keys)
                .into_iter()
                .map(|(_, publication)| {
                    let mut cmd = redis::cmd("PUBLISH");
                    cmd.arg(publication.channel).arg(publication.message);
                    cmd
                })
        });
        // The answers after the stores' (releases, publishes) are not read.
        stores.chain(releases).chain(announcements).collect()
    }

    fn into_results(self) -> Vec<Result<bool>> {
        self.results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| {
                    Err(Error::new(
                        ErrorKind::Backend,
                        format!("redis {OPERATION}: no answer for this write"),
                    ))
                })
            })
            .collect()
    }
}

impl RedisBackend {
    /// See [`Backend::replace_if_many`](crate::Backend::replace_if_many).
    pub(super) fn replace_many(&self, writes: Vec<ReplaceIf<'_>>) -> Vec<Result<bool>> {
        let mut batch = Batch::new(self.origin, &writes, self.connections.is_cluster());
        let mut sent: Vec<usize> = (0..batch.stores.len()).collect();
        // By SHA, then those that met `NOSCRIPT` by code (which never meets it).
        for by_code in [false, true] {
            if sent.is_empty() {
                break;
            }
            let answers = self.pipelined(batch.commands(&sent, by_code));
            sent = self.read_answers(&mut batch, &sent, answers);
        }
        batch.into_results()
    }

    /// One pipelined exchange of `cmds`: one answer per command.
    fn pipelined(&self, cmds: Vec<redis::Cmd>) -> Result<Vec<RedisResult<Reply>>> {
        let replies = self.connections.run(OPERATION, |conn| match conn {
            Conn::Single(conn) => {
                let mut pipe = redis::pipe();
                pipe.ignore_errors();
                for cmd in cmds {
                    pipe.add_command(cmd);
                }
                pipe.query::<Vec<Reply>>(conn)
            }
            // A cluster pipeline fails whole on an error answer (see `read_answers`).
            Conn::Cluster(conn) => {
                let mut pipe = cluster_pipe();
                for cmd in cmds {
                    pipe.add_command(cmd);
                }
                pipe.query::<Vec<Reply>>(conn)
            }
        })?;
        Ok(replies.into_iter().map(Ok).collect())
    }

    /// Notes the answers to the stores `sent` (the releases' answers, after
    /// them, say nothing a caller needs); gives the stores to send again by code.
    fn read_answers(
        &self,
        batch: &mut Batch<'_>,
        sent: &[usize],
        answers: Result<Vec<RedisResult<Reply>>>,
    ) -> Vec<usize> {
        let answers = match answers {
            Ok(answers) => answers,
            // A cluster pipeline of which a store met `NOSCRIPT`: the other
            // answers are lost with it, so every store goes again by code (one
            // already made compares unequal then and answers "not stored").
            Err(error) if is_noscript(&error) => return sent.to_vec(),
            Err(error) => {
                for (&store, failed) in sent.iter().zip(each_failed(error, sent.len())) {
                    batch.results[batch.stores[store].write] = Some(failed);
                }
                return Vec::new();
            }
        };
        let mut again = Vec::new();
        for (&store, answer) in sent.iter().zip(answers) {
            let answer = match answer {
                Ok(Reply::ServerError(error)) => Err(redis::RedisError::from(error)),
                other => other,
            };
            let result = match answer {
                Ok(Reply::Int(stored)) => Ok(stored == 1),
                Ok(other) => Err(self.connections.error(
                    OPERATION,
                    redis::RedisError::from((
                        redis::ErrorKind::Parse,
                        "unexpected reply",
                        format!("the compare-and-set script answered {other:?}"),
                    )),
                )),
                Err(error)
                    if error.kind()
                        == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
                {
                    again.push(store);
                    continue;
                }
                Err(error) => Err(self.connections.error(OPERATION, error)),
            };
            batch.results[batch.stores[store].write] = Some(result);
        }
        again
    }
}

#[cfg(feature = "tokio")]
mod with_tokio {
    use futures_util::future::join_all;

    use super::*;
    use crate::backend::redis::aio::{query, query_pipe};
    use crate::backend::redis::aio_conn::AsyncConn;

    impl RedisBackend {
        /// [`replace_many`](RedisBackend::replace_many), awaited.
        pub(in crate::backend::redis) async fn replace_many_async(
            &self,
            writes: Vec<ReplaceIf<'_>>,
        ) -> Vec<Result<bool>> {
            let mut batch = Batch::new(self.origin, &writes, self.connections.is_cluster());
            let mut sent: Vec<usize> = (0..batch.stores.len()).collect();
            for by_code in [false, true] {
                if sent.is_empty() {
                    break;
                }
                let answers = self.pipelined_async(batch.commands(&sent, by_code)).await;
                sent = self.read_answers(&mut batch, &sent, answers);
            }
            batch.into_results()
        }

        /// [`pipelined`](RedisBackend::pipelined), awaited. A cluster's
        /// requests go one per command (the redis crate's async pipelines
        /// stay in one slot), all in flight at once.
        async fn pipelined_async(&self, cmds: Vec<redis::Cmd>) -> Result<Vec<RedisResult<Reply>>> {
            let cmds = &cmds;
            self.run_async(OPERATION, |conn| async move {
                match conn {
                    AsyncConn::Single(_) => {
                        let mut pipe = redis::pipe();
                        pipe.ignore_errors();
                        for cmd in cmds {
                            pipe.add_command(cmd.clone());
                        }
                        let replies: Vec<Reply> = query_pipe(conn, &pipe).await?;
                        Ok(replies.into_iter().map(Ok).collect())
                    }
                    AsyncConn::Cluster(_) => {
                        Ok(join_all(cmds.iter().map(|cmd| query(conn.clone(), cmd))).await)
                    }
                }
            })
            .await
        }
    }
}
