//! Raw memcached: requests in the text protocol, and the servers' `stats`
//! counters, to count what a backend sent and to read what it stored.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Sends `request` to `address` and reads until the answer ends with one of `ends`.
/// Bounded: it panics after 5 s without a complete answer.
pub fn request(address: &str, request: &[u8], ends: &[&[u8]]) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).expect("connect to the test memcached");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut chunk = [0u8; 1 << 16];
    while !ends.iter().any(|end| answer.ends_with(end)) {
        assert!(
            Instant::now() < deadline,
            "no complete answer: {:?}",
            String::from_utf8_lossy(&answer)
        );
        let read = stream
            .read(&mut chunk)
            .expect("read from the test memcached");
        assert!(
            read > 0,
            "memcached closed: {:?}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&chunk[..read]);
    }
    answer
}

/// The server's `stats`, numbers only.
pub fn stats(address: &str) -> BTreeMap<String, u64> {
    let answer = request(address, b"stats\r\n", &[b"END\r\n"]);
    String::from_utf8_lossy(&answer)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            (fields.next()? == "STAT").then_some(())?;
            let name = fields.next()?;
            let value = fields.next()?.parse().ok()?;
            Some((name.to_owned(), value))
        })
        .collect()
}

/// The command counters that grew between two `stats` snapshots (the
/// `cmd_*`, `get_*`, `delete_*`, `cas_*`, `incr_*`, `touch_*` and `flush` ones).
pub fn delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    const COUNTERS: [&str; 8] = [
        "cmd_", "get_", "delete_", "cas_", "incr_", "decr_", "touch_", "meta",
    ];
    after
        .iter()
        .filter(|(name, _)| COUNTERS.iter().any(|prefix| name.starts_with(prefix)))
        .filter_map(|(name, value)| {
            let grew = value.saturating_sub(before.get(name).copied().unwrap_or(0));
            (grew > 0).then(|| (name.clone(), grew))
        })
        .collect()
}

/// `stats` of every address, summed.
pub fn stats_of(addresses: &[String]) -> BTreeMap<String, u64> {
    let mut total = BTreeMap::new();
    for address in addresses {
        for (name, value) in stats(address) {
            *total.entry(name).or_insert(0) += value;
        }
    }
    total
}

/// The raw value stored under `key` (a key that needs no mapping), if any.
pub fn raw_get(address: &str, key: &str) -> Option<Vec<u8>> {
    let answer = request(address, format!("get {key}\r\n").as_bytes(), &[b"END\r\n"]);
    let text = answer.strip_prefix(b"VALUE ")?;
    let header_end = text.windows(2).position(|w| w == b"\r\n")?;
    let header = std::str::from_utf8(&text[..header_end]).ok()?;
    let len: usize = header.rsplit(' ').next()?.parse().ok()?;
    Some(text[header_end + 2..header_end + 2 + len].to_vec())
}

/// Every key the server holds, from `lru_crawler metadump all` (which lists
/// them URL-encoded, and may skip an item busy at that moment).
pub fn keys(address: &str) -> Vec<Vec<u8>> {
    let dump = request(address, b"lru_crawler metadump all\r\n", &[b"END\r\n"]);
    String::from_utf8_lossy(&dump)
        .lines()
        .filter_map(|line| line.strip_prefix("key=")?.split(' ').next())
        .map(percent_decoded)
        .collect()
}

/// `%XX` escapes decoded.
fn percent_decoded(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' && at + 3 <= bytes.len() {
            out.push(u8::from_str_radix(&text[at + 1..at + 3], 16).expect("%XX"));
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    out
}

/// A counter map from pairs, for comparisons.
pub fn counters(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), *value))
        .collect()
}

/// The floor of the benches: `get`s and `set`s written by hand on one kept
/// connection, each answer read into one reused buffer, nothing parsed.
pub struct RawConnection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawConnection {
    /// A connection to `address`, with Nagle's delay off.
    pub fn connect(address: &str) -> RawConnection {
        let stream = TcpStream::connect(address).expect("connect to the test memcached");
        stream.set_nodelay(true).unwrap();
        RawConnection {
            stream,
            buffer: vec![0; 4096],
        }
    }

    /// Sends `request` and reads until its answer ends (`END` or `STORED`);
    /// gives the answer's length.
    pub fn request(&mut self, request: &[u8]) -> usize {
        self.stream.write_all(request).unwrap();
        let mut filled = 0;
        loop {
            filled += self.stream.read(&mut self.buffer[filled..]).unwrap();
            let got = &self.buffer[..filled];
            if got.ends_with(b"END\r\n") || got.ends_with(b"STORED\r\n") {
                return filled;
            }
        }
    }
}
