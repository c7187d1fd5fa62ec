//! Faults of Memcached only, against real memcached servers: a restart under
//! a warm connection pool, one of two servers down, any bytes under a version
//! key, and a foreign server's huge length. The faults both backends meet the
//! same way are in `faults.rs`.

#![cfg(feature = "memcached")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use cachetool::{cached, Backend, ConnectOptions, ErrorKind, MemcachedBackend};
use cachetool_test_harness::faults::liar;
use cachetool_test_harness::{Kind, Server};
use support::memcached::Setup;

const SHORT: Duration = Duration::from_millis(300);

fn short_options() -> ConnectOptions {
    let mut options = ConnectOptions::default();
    options.connect_timeout = SHORT;
    options.io_timeout = SHORT;
    options
}

#[test]
fn a_restart_under_a_warm_pool_costs_no_error() {
    // Connections pooled, then the server restarts between two calls: the first
    // call after it finds its pooled connection closed and resends on a new one.
    let mut server = Server::start(Kind::Memcached);
    let backend = Arc::new(MemcachedBackend::open(&server.url(), &short_options()).unwrap());
    backend.set("k", b"v".to_vec().into(), None).unwrap();
    // Several pooled connections.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..50 {
                    backend.get_many(&["k"]).unwrap();
                }
            });
        }
    });
    server.restart();
    let trips = backend.round_trips();
    let values = backend
        .get_many(&["k"])
        .expect("resent on a new connection");
    assert!(values[0].is_none(), "a new server holds nothing");
    assert_eq!(backend.round_trips() - trips, 2, "one request, sent twice");
    backend
        .set("k", b"v".to_vec().into(), None)
        .expect("the other dead connections were dropped");
    assert!(backend.get_many(&["k"]).unwrap()[0].is_some());
}

#[test]
fn one_of_two_servers_down_only_fails_what_it_holds() {
    let setup = Setup::with_servers("mc-fault-two", 2, &[], |builder| builder);
    let backend = &setup.backend;
    let addresses = setup.addresses();
    let on = |address: &str| {
        (0..1000)
            .map(|n| format!("{}:entry:f:{n}", setup.cache.prefix()))
            .find(|key| backend.server_of(key) == address)
            .unwrap()
    };
    let (first, second) = (on(&addresses[0]), on(&addresses[1]));
    backend.set(&first, b"1".to_vec().into(), None).unwrap();
    backend.set(&second, b"2".to_vec().into(), None).unwrap();
    let mut servers = setup.servers;
    servers[1].stop();
    assert!(backend.get_many(&[&first]).unwrap()[0].is_some());
    let error = backend.get_many(&[&first, &second]).unwrap_err();
    assert!(error.to_string().contains(&addresses[1]), "{error}");
    let stats = backend.server_stats().expect("one server still answers");
    assert_eq!(stats.servers, 1);
    servers[1].restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while backend.get_many(&[&first, &second]).is_err() {
        assert!(
            Instant::now() < deadline,
            "the restarted server is used again"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

static VERSION_GARBAGE: LazyLock<Setup> =
    LazyLock::new(|| Setup::new("mc-version-garbage", |builder| builder));
static VERSION_GARBAGE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &VERSION_GARBAGE.cache, name = "versioned", key = format!("k{n}"), tags = ["t"])]
fn versioned(n: u64) -> String {
    VERSION_GARBAGE_RUNS.fetch_add(1, SeqCst);
    format!("value {n}")
}

#[test]
fn any_bytes_under_a_version_key_are_just_another_version() {
    // Memcached has no types: whatever another program leaves under a tag or
    // epoch key (binary, line breaks, empty, a "compressed" flag on junk) is
    // bytes, and any bytes are a version: the next call misses once (as after
    // a clean), stores under that version, and the one after hits.
    let setup = &*VERSION_GARBAGE;
    let client = setup.client();
    let prefix = setup.cache.prefix();
    assert_eq!(versioned(1), "value 1");
    assert_eq!(versioned(1), "value 1");
    assert_eq!(VERSION_GARBAGE_RUNS.load(SeqCst), 1);
    let (tag_key, epoch_key) = (format!("{prefix}:tag:t"), format!("{prefix}:epoch"));
    let junk: [(&str, u32, &[u8]); 5] = [
        (&tag_key, 0, b"\x00\xff\r\nEND\r\n\x80 binary"),
        (&epoch_key, 0, b""),
        (&tag_key, 1 << 16, b"\xff\xff\xff\x7fnot lz4 at all"),
        (&epoch_key, 3, &[0xc3; 3000]),
        (&tag_key, 0, b"CT\x02\x00 an envelope's magic"),
    ];
    for (round, (key, flags, bytes)) in junk.into_iter().enumerate() {
        assert!(
            client.get(key).is_some(),
            "{key} holds a version before it is replaced"
        );
        client.set_flagged(key, flags, bytes);
        assert_eq!(versioned(1), "value 1", "a miss");
        assert_eq!(VERSION_GARBAGE_RUNS.load(SeqCst), round + 2);
        assert_eq!(versioned(1), "value 1", "then a hit");
        assert_eq!(VERSION_GARBAGE_RUNS.load(SeqCst), round + 2);
        assert_eq!(
            client.get(key).as_deref(),
            Some(bytes),
            "the junk itself is the version"
        );
    }
    assert_eq!(setup.cache.stats().errors, 0);
}

#[test]
fn a_huge_length_in_an_answer_is_an_error_not_a_huge_allocation() {
    // A foreign or garbled server claims a value of 2^64-1 (or 2^40) bytes and
    // closes: before, the claim was allocated up front (a capacity overflow
    // panic in the caller's thread, or an aborting allocation failure).
    for answer in [
        &b"VALUE k 0 18446744073709551615 1\r\nabc"[..],
        &b"VALUE k 0 1099511627776 1\r\nabc"[..],
    ] {
        let url = format!("memcache://{}", liar(answer));
        let backend = MemcachedBackend::open(&url, &short_options()).unwrap();
        let error = backend.get_many(&["k"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Backend, "{error}");
    }
}
