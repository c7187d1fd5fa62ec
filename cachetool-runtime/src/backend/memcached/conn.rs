//! One server: its pooled connections, each a socket with its buffers (the
//! commands and answers spoken on them are in `protocol.rs`).
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
