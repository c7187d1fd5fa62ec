//! `replace_if_many`: every write's storage command (`add`, or `cas` with
//! the cas id read with its seen value) and every held lock's `md`, written
//! to each server involved as one request before any answer is read: one
//! round trip per server.

use std::borrow::Cow;

use super::locks::{push_md, NotedLock};
use super::protocol::{push_store, read_deleted, read_stored, StoreReply};
use super::store::Store;
use super::transport::Pending;
use super::values::bytes_of;
use super::{keys, MemcachedBackend};
use crate::backend::{each_failed, ReplaceIf};
use crate::Result;

/// One command of a server's request, and which write it belongs to.
enum Command<'w> {
    /// A write's storage command, as written (`request`), its value `len` bytes.
    Store {
        write: usize,
        store: Store<'w>,
        request: Vec<u8>,
        len: usize,
    },
    /// The release of a write's lock.
    Release { write: usize, lock: NotedLock<'w> },
}

impl Command<'_> {
    fn write(&self) -> usize {
        match self {
            Command::Store { write, .. } | Command::Release { write, .. } => *write,
        }
    }
}

impl MemcachedBackend {
    /// See [`Backend::replace_if_many`](crate::Backend::replace_if_many).
    pub(super) fn replace_many(&self, writes: Vec<ReplaceIf<'_>>) -> Vec<Result<bool>> {
        let wire: Vec<Cow<'_, str>> = writes
            .iter()
            .map(|write| keys::wire_key(write.key))
            .collect();
        let mut results: Vec<Option<Result<bool>>> = writes.iter().map(|_| None).collect();
        // Locks taken by another instance (no cas id noted): released after the batch.
        let mut unnoted = Vec::new();
        let mut by_server: Vec<(usize, Vec<Command<'_>>)> = Vec::new();
        for (index, write) in writes.iter().enumerate() {
            match self.planned_store(write, &wire[index]) {
                Ok(Some((store, request, len))) => {
                    let server = store.server;
                    let command = Command::Store {
                        write: index,
                        store,
                        request,
                        len,
                    };
                    add(&mut by_server, server, command);
                }
                // The key no longer holds what was seen: nothing to send.
                Ok(None) => results[index] = Some(Ok(false)),
                Err(error) => results[index] = Some(Err(error)),
            }
            if let Some(lock) = write.release {
                match self.noted_lock(lock) {
                    Some(lock) => {
                        let server = lock.server;
                        add(
                            &mut by_server,
                            server,
                            Command::Release { write: index, lock },
                        );
                    }
                    None => unnoted.push(index),
                }
            }
        }

        // Every request written, then every answer read.
        let pending: Vec<Result<Pending>> = by_server
            .iter()
            .map(|(server, commands)| {
                self.send(*server, "replace_if_many", |out| {
                    for command in commands {
                        match command {
                            Command::Store { request, .. } => out.extend_from_slice(request),
                            Command::Release { lock, .. } => push_md(out, &lock.wire, lock.cas),
                        }
                    }
                })
            })
            .collect();
        for ((_, commands), pending) in by_server.iter().zip(pending) {
            let answers = pending.and_then(|pending| {
                self.receive(pending, |conn| {
                    commands
                        .iter()
                        .map(|command| match command {
                            Command::Store { .. } => read_stored(conn).map(Some),
                            Command::Release { .. } => read_deleted(conn).map(|_| None),
                        })
                        .collect::<std::io::Result<Vec<Option<StoreReply>>>>()
                })
            });
            match answers {
                Ok(answers) => {
                    for (command, answer) in commands.iter().zip(answers) {
                        let (
                            Command::Store {
                                write, store, len, ..
                            },
                            Some(reply),
                        ) = (command, answer)
                        else {
                            continue;
                        };
                        // Not over the failure of its lock's release, answered first.
                        if !matches!(results[*write], Some(Err(_))) {
                            let stored = self.store_failure(store, *len, reply);
                            results[*write] = Some(stored.map(|reply| reply == StoreReply::Stored));
                        }
                    }
                }
                // The server failed: so did each write with a command in its request.
                Err(error) => {
                    for (command, failed) in commands.iter().zip(each_failed(error, commands.len()))
                    {
                        results[command.write()] = Some(failed);
                    }
                }
            }
        }
        for index in unnoted {
            if let Some(lock) = writes[index].release {
                if let Err(error) = self.release(lock.key, lock.token) {
                    results[index] = Some(Err(error));
                }
            }
        }
        results
            .into_iter()
            .map(|result| result.unwrap_or(Ok(false)))
            .collect()
    }

    /// The storage command of `write` (its [`Store`], the command as written,
    /// the length of its value as stored); `None` when the key no longer
    /// holds what was seen.
    fn planned_store<'w>(
        &self,
        write: &'w ReplaceIf<'_>,
        wire_key: &'w str,
    ) -> Result<Option<(Store<'w>, Vec<u8>, usize)>> {
        let data = bytes_of(&write.value, write.key)?;
        let Some(store) = self.compare_and_set(write.key, wire_key, write.seen, data, write.ttl)?
        else {
            return Ok(None);
        };
        let (payload, flags) = self.encode(data);
        if self.too_large(store.server, wire_key, payload.len()) {
            return Err(self.not_stored_oversized(write.key, store.server, payload.len()));
        }
        let exptime = keys::exptime(write.ttl);
        let mut request = Vec::with_capacity(payload.len() + wire_key.len() + 64);
        push_store(
            &mut request,
            store.command,
            wire_key,
            flags,
            exptime,
            &payload,
            store.cas,
        );
        let len = payload.len();
        Ok(Some((store, request, len)))
    }
}

/// Adds `command` to the request of `server`.
fn add<'w>(by_server: &mut Vec<(usize, Vec<Command<'w>>)>, server: usize, command: Command<'w>) {
    match by_server.iter_mut().find(|(held_by, _)| *held_by == server) {
        Some((_, commands)) => commands.push(command),
        None => by_server.push((server, vec![command])),
    }
}
