//! The text protocol: the commands we write and the answers we read.

use std::io;

use bytes::Bytes;

use super::conn::{protocol, Conn};

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
    out.push(b' ');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
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
