//! Listing and reading keys for operators (`crate::admin`): `lru_crawler
//! metadump all` on every server, and a key's value with its TTL (`mg`).

use std::borrow::Cow;
use std::io;
use std::ops::ControlFlow;
use std::time::Duration;

use super::conn::{protocol, Conn};
use super::protocol::{parse_u64, Item};
use super::values::decode;
use super::{keys, MemcachedBackend};
use crate::admin::Stored;
use crate::{Error, ErrorKind, Result};

/// How often a metadump is tried while the server's crawler is busy with
/// another, and the pause between tries.
const BUSY_ATTEMPTS: usize = 40;
const BUSY_PAUSE: Duration = Duration::from_millis(50);

/// How a metadump request ended.
enum Dump {
    /// Every key was read, up to `END`.
    Done,
    /// The crawler is busy (another dump, or a crawl): try again.
    Busy(String),
    /// The server refused (crawler disabled, an old server).
    Refused(String),
}

impl MemcachedBackend {
    /// See [`admin::scan_keys`](crate::admin::scan_keys): `lru_crawler
    /// metadump all` on each server, keys filtered here (metadump has no
    /// pattern). The server walks its items in a background thread and
    /// streams them; nothing is blocked.
    pub(crate) fn scan_keys(
        &self,
        starting_with: &str,
        each: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<()> {
        let mut stopped = false;
        for server in 0..self.servers.len() {
            let mut attempts = 0;
            loop {
                attempts += 1;
                let dump = self.round_trip(
                    server,
                    "lru_crawler metadump",
                    |out| out.extend_from_slice(b"lru_crawler metadump all\r\n"),
                    |conn| {
                        read_metadump(conn, &mut |key| {
                            if !stopped && key.starts_with(starting_with) {
                                stopped = each(key).is_break();
                            }
                        })
                    },
                )?;
                let address = &self.servers[server].address;
                match dump {
                    Dump::Done => break,
                    Dump::Busy(_) if attempts < BUSY_ATTEMPTS => std::thread::sleep(BUSY_PAUSE),
                    Dump::Busy(answer) | Dump::Refused(answer) => {
                        return Err(Error::new(
                            ErrorKind::Backend,
                            format!(
                                "memcached {address}: lru_crawler metadump was refused: {answer}"
                            ),
                        )
                        .at_server(address, "lru_crawler metadump"))
                    }
                }
            }
            if stopped {
                break;
            }
        }
        Ok(())
    }

    /// See [`admin::inspect`](crate::admin::inspect): `mg {key} v t f`. A key
    /// in the hashed form is read as it is.
    pub(crate) fn inspect(&self, key: &str) -> Result<Option<Stored>> {
        let wire = match crate::admin::is_hashed(key) {
            true => Cow::Borrowed(key),
            false => keys::wire_key(key),
        };
        let server = self.ring.server_of(&wire);
        let found = self.round_trip(
            server,
            "mg",
            |out| {
                out.extend_from_slice(b"mg ");
                out.extend_from_slice(wire.as_bytes());
                out.extend_from_slice(b" v t f\r\n");
            },
            read_meta_get,
        )?;
        Ok(found.map(|(item, ttl)| Stored {
            bytes: decode(item),
            ttl,
        }))
    }
}

/// Reads a metadump up to `END`, handing each (decoded) key to `key`; or the
/// one line of a refusal.
fn read_metadump(conn: &mut Conn, key: &mut dyn FnMut(&str)) -> io::Result<Dump> {
    let mut decoded = String::new();
    loop {
        let line = conn.line()?;
        if line == b"END" {
            return Ok(Dump::Done);
        }
        let text = String::from_utf8_lossy(line);
        if text.starts_with("BUSY") || text.starts_with("ERROR locked") {
            return Ok(Dump::Busy(text.into_owned()));
        }
        if text.starts_with("ERROR") || text.starts_with("CLIENT_ERROR") {
            return Ok(Dump::Refused(text.into_owned()));
        }
        // key=app%3Aentry%3A... exp=-1 la=... cas=... fetch=no cls=1 size=63
        let encoded = text
            .split(' ')
            .find_map(|field| field.strip_prefix("key="))
            .ok_or_else(|| protocol("a metadump line without a key"))?;
        decoded.clear();
        uri_decode(encoded, &mut decoded);
        key(&decoded);
    }
}

/// Memcached's `uriencode` undone: `%XX` to the byte it stands for.
fn uri_decode(encoded: &str, out: &mut String) {
    let bytes = encoded.as_bytes();
    let mut plain = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                plain.push(byte);
                at += 3;
            }
            (byte, _) => {
                plain.push(byte);
                at += 1;
            }
        }
    }
    out.push_str(&String::from_utf8_lossy(&plain));
}

/// The answer to `mg key v t f`: `VA {len} t{ttl} f{flags}` and the data, or `EN`.
fn read_meta_get(conn: &mut Conn) -> io::Result<Option<(Item, Option<Duration>)>> {
    let line = conn.line()?;
    if line == b"EN" {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(line).into_owned();
    let mut fields = text.split(' ');
    if fields.next() != Some("VA") {
        return Err(protocol(&format!("unexpected answer to mg: {text:?}")));
    }
    let len = fields
        .next()
        .and_then(|len| parse_u64(len.as_bytes()).ok())
        .ok_or_else(|| protocol("mg: no value length"))?;
    let (mut flags, mut ttl) = (0u32, None);
    for field in fields {
        if let Some(value) = field.strip_prefix('f') {
            flags = value.parse().unwrap_or(0);
        } else if let Some(value) = field.strip_prefix('t') {
            // -1: no expiry.
            ttl = value.parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    let data = conn.data(usize::try_from(len).map_err(|_| protocol("mg: length"))?)?;
    Ok(Some((
        Item {
            data,
            flags,
            cas: 0,
        },
        ttl,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadump_keys_are_uri_decoded() {
        let mut out = String::new();
        uri_decode("app%3Aentry%3Am.f%3Auser%3A7%7e", &mut out);
        assert_eq!(out, "app:entry:m.f:user:7~");
        out.clear();
        uri_decode("100%", &mut out);
        assert_eq!(out, "100%", "a lone % stays");
    }
}
