//! The Redis backend's compare-and-set (`replace_if`): a store happens only
//! if the entry is still what was read, and what is sent to compare an
//! envelope of ours is its identifying prefix, never the (perhaps large)
//! value itself.

#![cfg(feature = "redis")]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use cachetool::{Backend, ConnectOptions, RedisBackend, Value};
use cachetool_test_harness::{Kind, Server};

/// An envelope of ours (see the README's "Stored values"): magic, format,
/// kind, the write's random stamp, then anything.
fn envelope(stamp: u8, size: usize) -> Vec<u8> {
    let mut bytes = b"CT\x02\x00".to_vec();
    bytes.extend_from_slice(&[stamp; 8]);
    bytes.resize(size.max(40), b'v');
    bytes
}

fn raw_get(server: &Server, key: &str) -> Option<Vec<u8>> {
    let mut conn = cachetool_test_harness::redis::raw_connection(server);
    redis::cmd("GET").arg(key).query(&mut conn).unwrap()
}

fn raw_set(server: &Server, key: &str, value: &[u8]) {
    let mut conn = cachetool_test_harness::redis::raw_connection(server);
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query(&mut conn)
        .unwrap();
}

#[test]
fn a_store_over_a_stale_read_is_refused_and_changes_nothing() {
    let server = Server::start(Kind::Redis);
    let backend = RedisBackend::open(&server.url(), &ConnectOptions::default()).unwrap();
    let key = "cas:entry:f:1";
    let (old, new, mine) = (envelope(1, 64), envelope(2, 64), envelope(3, 64));
    raw_set(&server, key, &new);
    // Read as `old`, but another writer stored `new` since: refused.
    let stored = backend
        .replace_if(
            key,
            Some(&Value::from(old.clone())),
            Value::from(mine.clone()),
            None,
            None,
        )
        .unwrap();
    assert!(!stored, "a stale `seen` envelope must be refused");
    assert_eq!(raw_get(&server, key), Some(new.clone()));
    // Read as absent, but the key exists: refused too.
    let stored = backend
        .replace_if(key, None, Value::from(mine.clone()), None, None)
        .unwrap();
    assert!(!stored, "`seen` absent, key present: refused");
    assert_eq!(raw_get(&server, key), Some(new.clone()));
    // Read as it is: stored.
    let stored = backend
        .replace_if(
            key,
            Some(&Value::from(new)),
            Value::from(mine.clone()),
            None,
            None,
        )
        .unwrap();
    assert!(stored);
    assert_eq!(raw_get(&server, key), Some(mine));
}

#[test]
fn a_foreign_value_is_compared_in_full() {
    let server = Server::start(Kind::Redis);
    let backend = RedisBackend::open(&server.url(), &ConnectOptions::default()).unwrap();
    let key = "cas:entry:f:2";
    raw_set(&server, key, b"someone else's value");
    let mine = envelope(4, 64);
    let stale = Value::from(b"someone else's valuE".to_vec());
    assert!(!backend
        .replace_if(key, Some(&stale), Value::from(mine.clone()), None, None)
        .unwrap());
    let seen = Value::from(b"someone else's value".to_vec());
    assert!(backend
        .replace_if(key, Some(&seen), Value::from(mine.clone()), None, None)
        .unwrap());
    assert_eq!(raw_get(&server, key), Some(mine));
}

/// Watches the server's `MONITOR` stream for the script call of `replace_if`
/// over a 1 MiB entry: the call is a few hundred bytes, not a megabyte.
#[test]
fn comparing_a_large_entry_sends_only_its_prefix() {
    let server = Server::start(Kind::Redis);
    let backend = RedisBackend::open(&server.url(), &ConnectOptions::default()).unwrap();
    let key = "cas:entry:f:large";
    let large = envelope(5, 1 << 20);
    raw_set(&server, key, &large);

    let mut monitor = TcpStream::connect(server.address()).unwrap();
    monitor
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    monitor.write_all(b"MONITOR\r\n").unwrap();
    let mut lines = BufReader::new(monitor);
    let mut ok = String::new();
    lines.read_line(&mut ok).unwrap();
    assert_eq!(ok, "+OK\r\n");

    let small = envelope(6, 64);
    let stored = backend
        .replace_if(
            key,
            Some(&Value::from(large)),
            Value::from(small.clone()),
            None,
            None,
        )
        .unwrap();
    assert!(stored);
    assert_eq!(raw_get(&server, key), Some(small));

    let deadline = Instant::now() + Duration::from_secs(10);
    let call = loop {
        assert!(Instant::now() < deadline, "no script call seen");
        let mut line = String::new();
        lines.read_line(&mut line).expect("a MONITOR line");
        if line.contains("\"EVALSHA\"") || line.contains("\"EVAL\"") {
            break line;
        }
    };
    assert!(
        call.len() < 4096,
        "the compare-and-set sent {} bytes for a 1 MiB entry",
        call.len()
    );
}
