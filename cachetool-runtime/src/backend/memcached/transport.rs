//! Requests and their answers: one write per server, answers read after all
//! writes, and the one retry a pooled connection gets when the server closed
//! it (a restart) before answering.

use std::borrow::Cow;
use std::io;
use std::sync::atomic::Ordering::Relaxed;

use super::conn::{Checkout, Conn};
use super::protocol::{push_gets, read_gets, Item};
use super::MemcachedBackend;
use crate::{Error, ErrorKind, Result};

/// A request written to a server, its answer not read yet.
pub(super) struct Pending {
    server: usize,
    /// The commands, for errors.
    what: &'static str,
    checkout: Checkout,
}

impl MemcachedBackend {
    /// Writes a request to `server`; its answer is read by [`receive`](Self::receive).
    pub(super) fn send(
        &self,
        server: usize,
        what: &'static str,
        build: impl FnOnce(&mut Vec<u8>),
    ) -> Result<Pending> {
        let mut checkout = self.servers[server]
            .checkout(&self.options)
            .map_err(|error| self.io_error(server, what, "connecting", error))?;
        checkout.conn.out.clear();
        build(&mut checkout.conn.out);
        self.round_trips.fetch_add(1, Relaxed);
        if let Err(error) = checkout.conn.send() {
            if !(checkout.pooled && is_closed(&error)) {
                return Err(self.io_error(server, what, "sending", error));
            }
            checkout = self.resend(server, what, checkout)?;
        }
        Ok(Pending {
            server,
            what,
            checkout,
        })
    }

    /// Reads the answer to a request with `read`. A pooled connection that the
    /// server had closed (a restart) before answering anything is replaced and
    /// the request sent again, once.
    pub(super) fn receive<T>(
        &self,
        mut pending: Pending,
        mut read: impl FnMut(&mut Conn) -> io::Result<T>,
    ) -> Result<T> {
        loop {
            match read(&mut pending.checkout.conn) {
                Ok(answer) => {
                    self.servers[pending.server].checkin(pending.checkout.conn);
                    return Ok(answer);
                }
                Err(error) => {
                    let checkout = pending.checkout;
                    if checkout.pooled && !checkout.conn.answered() && is_closed(&error) {
                        pending.checkout = self.resend(pending.server, pending.what, checkout)?;
                        continue;
                    }
                    return Err(self.io_error(
                        pending.server,
                        pending.what,
                        "reading the answer",
                        error,
                    ));
                }
            }
        }
    }

    /// [`send`](Self::send), then [`receive`](Self::receive).
    pub(super) fn round_trip<T>(
        &self,
        server: usize,
        what: &'static str,
        build: impl FnOnce(&mut Vec<u8>),
        read: impl FnMut(&mut Conn) -> io::Result<T>,
    ) -> Result<T> {
        let pending = self.send(server, what, build)?;
        self.receive(pending, read)
    }

    /// Sends the request of a dead pooled connection on a new one; the other
    /// idle connections of the server are likely dead too and are dropped.
    fn resend(&self, server: usize, what: &'static str, dead: Checkout) -> Result<Checkout> {
        tracing::debug!(
            server = %self.servers[server].address,
            "cachetool: a pooled memcached connection was closed; reconnecting"
        );
        self.servers[server].drop_idle();
        let mut conn = self.servers[server]
            .dial(&self.options)
            .map_err(|error| self.io_error(server, what, "reconnecting", error))?;
        conn.out = dead.conn.out;
        self.round_trips.fetch_add(1, Relaxed);
        conn.send()
            .map_err(|error| self.io_error(server, what, "sending", error))?;
        Ok(Checkout {
            conn,
            pooled: false,
        })
    }

    pub(super) fn io_error(
        &self,
        server: usize,
        what: &str,
        doing: &str,
        error: io::Error,
    ) -> Error {
        let kind = match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Backend,
        };
        let address = &self.servers[server].address;
        Error::with_source(
            kind,
            format!("memcached {address}: {what}: {doing} failed"),
            error,
        )
        .at_server(address, what)
    }

    /// The indices of `keys` that each involved server holds, in order.
    pub(super) fn by_server(&self, keys: &[Cow<'_, str>]) -> Vec<(usize, Vec<usize>)> {
        if self.servers.len() == 1 {
            return vec![(0, (0..keys.len()).collect())];
        }
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for (index, key) in keys.iter().enumerate() {
            let server = self.ring.server_of(key);
            match groups.iter_mut().find(|(held_by, _)| *held_by == server) {
                Some((_, indices)) => indices.push(index),
                None => groups.push((server, vec![index])),
            }
        }
        groups
    }

    /// One `gets` of one key on `server`: the item (with its cas id), if it is there.
    pub(super) fn gets_one(&self, server: usize, wire: &str) -> Result<Option<Item>> {
        let asked = [wire];
        let mut items = self.round_trip(
            server,
            "gets",
            |out| push_gets(out, asked),
            |conn| read_gets(conn, &asked),
        )?;
        Ok(items.pop().flatten())
    }
}

/// Whether an I/O error says the server closed the connection (rather than timing out).
fn is_closed(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
    )
}
