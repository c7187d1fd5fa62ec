//! One server: its pooled connections, and the text protocol spoken on them.
//!
//! A request is written with one `write` of a buffer holding all its commands
//! (memcached answers pipelined commands in order), and its answer read through
//! one buffer: a hit costs one `write` and usually one `read` system call.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::backend::ConnectOptions;

/// Idle connections kept per server; more are closed when handed back.
const MAX_IDLE: usize = 32;
/// After a failed connection attempt, calls fail at once for this long instead
/// of each waiting for the connect timeout of a server that is down.
const DOWN_PAUSE: Duration = Duration::from_millis(250);
/// The read buffer; answers longer than it (large values) are read straight into their own buffer.
const READ_BUFFER: usize = 16 * 1024;
/// The most allocated for a value before its bytes arrive; a longer one
/// grows as they do.
const MAX_PREALLOCATION: usize = 1 << 20;
/// Longest answer line we accept (a `VALUE` line is at most about 300 bytes).
const MAX_LINE: usize = 4096;

/// A memcached server and its idle connections.
pub(super) struct Server {
    pub(super) address: String,
    idle: Mutex<Vec<Conn>>,
    down_until: Mutex<Option<Instant>>,
    /// `item_size_max` from `stats settings`, read once.
    pub(super) item_size_max: OnceLock<usize>,
}

/// One connection.
pub(super) struct Conn {
    stream: TcpStream,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    /// The request being built; kept to reuse its allocation.
    pub(super) out: Vec<u8>,
    /// Whether any byte of the current answer arrived.
    answered: bool,
}

/// A connection taken from the pool, and whether it was pooled (it may have
/// died since, unnoticed) or dialed now.
pub(super) struct Checkout {
    pub(super) conn: Conn,
    pub(super) pooled: bool,
}

impl Server {
    pub(super) fn new(address: String) -> Server {
        Server {
            address,
            idle: Mutex::new(Vec::new()),
            down_until: Mutex::new(None),
            item_size_max: OnceLock::new(),
        }
    }

    /// An idle connection, or a new one.
    pub(super) fn checkout(&self, options: &ConnectOptions) -> io::Result<Checkout> {
        if let Some(conn) = self.idle.lock().pop() {
            return Ok(Checkout { conn, pooled: true });
        }
        Ok(Checkout {
            conn: self.dial(options)?,
            pooled: false,
        })
    }

    /// A new connection, unless the server failed one very recently.
    pub(super) fn dial(&self, options: &ConnectOptions) -> io::Result<Conn> {
        if let Some(until) = *self.down_until.lock() {
            if Instant::now() < until {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "a connection attempt failed moments ago; \
                     the next is made 250 ms after that failure",
                ));
            }
        }
        match Conn::connect(&self.address, options) {
            Ok(conn) => {
                *self.down_until.lock() = None;
                Ok(conn)
            }
            Err(error) => {
                *self.down_until.lock() = Some(Instant::now() + DOWN_PAUSE);
                Err(error)
            }
        }
    }

    /// Closes the idle connections (after one turned out dead: the server restarted).
    pub(super) fn drop_idle(&self) {
        self.idle.lock().clear();
    }

    /// Returns a connection whose last exchange completed.
    pub(super) fn checkin(&self, mut conn: Conn) {
        if conn.start != conn.end {
            return; // Unread bytes: out of step with the server.
        }
        if conn.out.capacity() > READ_BUFFER * 4 {
            conn.out = Vec::new();
        }
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

impl Conn {
    fn connect(address: &str, options: &ConnectOptions) -> io::Result<Conn> {
        // No deadline for a timeout too long to add to now (`Duration::MAX`): none is reached.
        let deadline = Instant::now().checked_add(options.connect_timeout);
        let mut last_error = None;
        let mut stream = None;
        for addr in address.to_socket_addrs()? {
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => options.connect_timeout,
            };
            if left.is_zero() {
                break;
            }
            match TcpStream::connect_timeout(&addr, left) {
                Ok(connected) => {
                    stream = Some(connected);
                    break;
                }
                Err(error) => last_error = Some(error),
            }
        }
        let stream = stream.ok_or_else(|| {
            last_error
                .unwrap_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))
        })?;
        stream.set_nodelay(true)?;
        // Never zero (`ConnectOptions::check`): std refuses `Some(ZERO)`, and
        // `None` would mean no timeout at all.
        stream.set_read_timeout(Some(options.io_timeout))?;
        stream.set_write_timeout(Some(options.io_timeout))?;
        Ok(Conn {
            stream,
            buffer: vec![0; READ_BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            out: Vec::with_capacity(256),
            answered: false,
        })
    }

    /// Writes the request in `out`.
    pub(super) fn send(&mut self) -> io::Result<()> {
        self.answered = false;
        self.stream.write_all(&self.out)
    }

    /// Whether any byte of the answer to the last request arrived.
    pub(super) fn answered(&self) -> bool {
        self.answered
    }

    /// Reads more into the buffer; an error at the end of the stream.
    fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buffer.len() {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let read = self.stream.read(&mut self.buffer[self.end..])?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        self.answered = true;
        self.end += read;
        Ok(())
    }

    /// The next answer line, without its `\r\n`.
    pub(super) fn line(&mut self) -> io::Result<&[u8]> {
        // Bytes after `start` already searched for the newline.
        let mut searched = 0;
        loop {
            let from = self.start + searched;
            if let Some(at) = memchr::memchr(b'\n', &self.buffer[from..self.end]) {
                let newline = from + at;
                let line_start = self.start;
                self.start = newline + 1;
                let line = &self.buffer[line_start..newline];
                return Ok(line.strip_suffix(b"\r").unwrap_or(line));
            }
            searched = self.end - self.start;
            if searched > MAX_LINE {
                return Err(protocol("an answer line is too long"));
            }
            self.fill()?;
        }
    }

    /// A data block of `len` bytes and its `\r\n`.
    pub(super) fn data(&mut self, len: usize) -> io::Result<Bytes> {
        let buffered = (self.end - self.start).min(len);
        // The length is the server's claim: a garbled or foreign answer
        // (`VALUE k 0 18446744073709551615`) must not allocate it up front.
        let mut data = Vec::with_capacity(len.min(MAX_PREALLOCATION));
        data.extend_from_slice(&self.buffer[self.start..self.start + buffered]);
        self.start += buffered;
        while data.len() < len {
            let at = data.len();
            data.resize(at + (len - at).min(MAX_PREALLOCATION), 0);
            self.stream.read_exact(&mut data[at..])?;
        }
        if data.capacity() > data.len() {
            data.shrink_to_fit(); // Grown past 1 MiB by doubling.
        }
        while self.end - self.start < 2 {
            self.fill()?;
        }
        if &self.buffer[self.start..self.start + 2] != b"\r\n" {
            return Err(protocol("a data block does not end with \\r\\n"));
        }
        self.start += 2;
        Ok(Bytes::from(data))
    }
}

/// An answer that does not follow the protocol; the connection is dropped.
pub(super) fn protocol(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Appends `{command} {key} {flags} {exptime} {len}[ {cas}]\r\n{data}\r\n`.
pub(super) fn push_store(
    out: &mut Vec<u8>,
    command: &str,
    key: &str,
    flags: u32,
    exptime: u64,
    data: &[u8],
    cas: Option<u64>,
) {
    out.extend_from_slice(command.as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    push_number(out, u64::from(flags));
    push_number(out, exptime);
    push_number(out, data.len() as u64);
    if let Some(cas) = cas {
        push_number(out, cas);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends `gets {key} {key}...\r\n`.
pub(super) fn push_gets<'k>(out: &mut Vec<u8>, keys: impl IntoIterator<Item = &'k str>) {
    out.extend_from_slice(b"gets");
    for key in keys {
        out.push(b' ');
        out.extend_from_slice(key.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends ` {n}`.
pub(super) fn push_number(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push(b' ');
    out.extend_from_slice(&digits[at..]);
}

/// A value as `gets` returns it.
pub(super) struct Item {
    pub(super) data: Bytes,
    pub(super) flags: u32,
    pub(super) cas: u64,
}

/// Reads the answer to `gets keys...`: each found key's item, in `keys` order.
pub(super) fn read_gets(conn: &mut Conn, keys: &[&str]) -> io::Result<Vec<Option<Item>>> {
    let mut items: Vec<Option<Item>> = (0..keys.len()).map(|_| None).collect();
    read_gets_with(conn, keys, |index, item| items[index] = Some(item))?;
    Ok(items)
}

/// Reads the answer to `gets keys...`, handing each found item to `found` with
/// its index in `keys`.
pub(super) fn read_gets_with<K: AsRef<str>>(
    conn: &mut Conn,
    keys: &[K],
    mut found: impl FnMut(usize, Item),
) -> io::Result<()> {
    // Memcached answers in request order, skipping misses (and repeating repeated keys).
    let mut next = 0;
    loop {
        let line = conn.line()?;
        if line == b"END" {
            return Ok(());
        }
        let header = parse_value_line(line)?;
        let index = keys[next..]
            .iter()
            .position(|key| key.as_ref().as_bytes() == header.key)
            .map(|at| next + at)
            .ok_or_else(|| protocol("a VALUE for a key that was not asked for"))?;
        let (len, flags, cas) = (header.len, header.flags, header.cas);
        next = index + 1;
        let data = conn.data(len)?;
        found(index, Item { data, flags, cas });
    }
}

struct ValueLine<'a> {
    key: &'a [u8],
    flags: u32,
    len: usize,
    cas: u64,
}

/// `VALUE {key} {flags} {bytes} {cas}`. (Read on every hit, once per key:
/// one search for the end of the key, then the digits as they come.)
fn parse_value_line(line: &[u8]) -> io::Result<ValueLine<'_>> {
    let rest = line
        .strip_prefix(b"VALUE ")
        .ok_or_else(|| unexpected(line))?;
    let key_end = memchr::memchr(b' ', rest).ok_or_else(|| unexpected(line))?;
    let (key, mut rest) = (&rest[..key_end], &rest[key_end..]);
    let mut number = || -> io::Result<u64> {
        let field = rest.strip_prefix(b" ").ok_or_else(|| unexpected(line))?;
        // A few digits: a plain scan beats memchr's setup.
        let end = field
            .iter()
            .position(|&byte| byte == b' ')
            .unwrap_or(field.len());
        rest = &field[end..];
        parse_u64(&field[..end])
    };
    let flags = u32::try_from(number()?).map_err(|_| unexpected(line))?;
    let len = usize::try_from(number()?).map_err(|_| unexpected(line))?;
    let cas = number()?;
    if !rest.is_empty() {
        return Err(unexpected(line));
    }
    Ok(ValueLine {
        key,
        flags,
        len,
        cas,
    })
}

/// A decimal number of up to 20 digits, as Memcached writes them.
pub(super) fn parse_u64(text: &[u8]) -> io::Result<u64> {
    let number = || protocol("a number was expected");
    if text.is_empty() || text.len() > 20 {
        return Err(number());
    }
    text.iter().try_fold(0u64, |value, &byte| {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return Err(number());
        }
        value
            .checked_mul(10)
            .and_then(|value| value.checked_add(u64::from(digit)))
            .ok_or_else(number)
    })
}

/// What a storage command answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StoreReply {
    Stored,
    /// `add` of a present key, or `cas`/`replace` of an absent one.
    NotStored,
    /// `cas` of a key changed since its `gets`.
    Exists,
    /// `cas` of an absent key.
    NotFound,
    /// `SERVER_ERROR object too large for cache`.
    TooLarge,
    /// Another `SERVER_ERROR` (out of memory...): the connection is still in step.
    ServerError(String),
}

pub(super) fn read_stored(conn: &mut Conn) -> io::Result<StoreReply> {
    let line = conn.line()?;
    Ok(match line {
        b"STORED" => StoreReply::Stored,
        b"NOT_STORED" => StoreReply::NotStored,
        b"EXISTS" => StoreReply::Exists,
        b"NOT_FOUND" => StoreReply::NotFound,
        _ if line.starts_with(b"SERVER_ERROR") => {
            let message = String::from_utf8_lossy(line).into_owned();
            if message.contains("too large") {
                StoreReply::TooLarge
            } else {
                StoreReply::ServerError(message)
            }
        }
        _ => return Err(unexpected(line)),
    })
}

/// The answer to `delete` (`DELETED`, `NOT_FOUND`) or meta `md` (`HD`, `NF`, `EX`):
/// whether it deleted.
pub(super) fn read_deleted(conn: &mut Conn) -> io::Result<bool> {
    let line = conn.line()?;
    match line {
        b"DELETED" | b"HD" => Ok(true),
        b"NOT_FOUND" | b"NF" | b"EX" => Ok(false),
        _ => Err(unexpected(line)),
    }
}

/// `STAT {name} {value}` lines up to `END`.
pub(super) fn read_stats(conn: &mut Conn) -> io::Result<Vec<(String, String)>> {
    let mut stats = Vec::new();
    loop {
        let line = conn.line()?;
        if line == b"END" {
            return Ok(stats);
        }
        let line = std::str::from_utf8(line).map_err(|_| unexpected(line))?;
        let mut fields = line.splitn(3, ' ');
        match (fields.next(), fields.next(), fields.next()) {
            (Some("STAT"), Some(name), value) => {
                stats.push((name.to_owned(), value.unwrap_or("").to_owned()));
            }
            _ => return Err(unexpected(line.as_bytes())),
        }
    }
}

fn unexpected(line: &[u8]) -> io::Error {
    let shown: String = String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected answer {shown:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_written_as_the_protocol_says() {
        let mut out = Vec::new();
        push_store(&mut out, "cas", "k", 7, 0, b"ab", Some(42));
        push_gets(&mut out, ["a", "b"]);
        assert_eq!(out, b"cas k 7 0 2 42\r\nab\r\ngets a b\r\n");
        out.clear();
        push_number(&mut out, u64::MAX);
        assert_eq!(out, b" 18446744073709551615");
    }

    #[test]
    fn value_lines_parse() {
        let line = parse_value_line(b"VALUE a:b 3 10 99").unwrap();
        assert_eq!(
            (line.key, line.flags, line.len, line.cas),
            (&b"a:b"[..], 3, 10, 99)
        );
        assert!(parse_value_line(b"VALUE a 1").is_err());
        assert!(parse_value_line(b"SERVER_ERROR x").is_err());
        let max = format!("VALUE k 4294967295 0 {}", u64::MAX);
        assert_eq!(parse_value_line(max.as_bytes()).unwrap().cas, u64::MAX);
        for bad in [
            &b"VALUE k 1 2 3 4"[..],
            b"VALUE k 1 2 ",
            b"VALUE k 1  2 3",
            b"VALUE k 1 2 -3",
            b"VALUE k 1 2 3x",
            b"VALUE k 4294967296 2 3",
            b"VALUE k 1 2 18446744073709551616",
            b"VALUE k",
            b"VALUE ",
        ] {
            assert!(
                parse_value_line(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
