//! Faults against real memcached servers: a server stopped and started again
//! under running calls (one of two servers, too), a server that accepts and
//! never answers, a closed port, and other clients' values under our keys.
//! Every call still returns its body's value; every loop is bounded in count and time.

#![cfg(feature = "memcached")]

mod support;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use cachetool::{cached, Backend, Cache, ConnectOptions, ErrorKind, MemcachedBackend};
use cachetool_test_harness::memcached::{raw_get, request};
use cachetool_test_harness::{Kind, Server};
use support::memcached::Setup;

const SHORT: Duration = Duration::from_millis(300);

fn short_options() -> ConnectOptions {
    let mut options = ConnectOptions::default();
    options.connect_timeout = SHORT;
    options.io_timeout = SHORT;
    options
}

/// Calls `call` until the cache counts a new hit, at most 20 s; panics otherwise.
fn until_a_hit(cache: &Cache, mut call: impl FnMut()) {
    let hits = cache.stats().hits;
    let deadline = Instant::now() + Duration::from_secs(20);
    for _ in 0..400 {
        call();
        if cache.stats().hits > hits {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no hit within 20 s of the restart"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no hit in 400 calls after the restart");
}

static RESTART: LazyLock<Mutex<Server>> =
    LazyLock::new(|| Mutex::new(Server::start(Kind::Memcached)));
static RESTART_CACHE: LazyLock<Cache> = LazyLock::new(|| {
    let url = RESTART.lock().unwrap().url();
    Cache::builder()
        .memcached(&url)
        .unwrap()
        .prefix(support::unique_prefix("mc-fault-restart"))
        .connect_timeout(SHORT)
        .io_timeout(SHORT)
        .build()
        .unwrap()
});
static RESTART_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &*RESTART_CACHE, tags = ["t"])]
fn restart_fn(n: u64) -> u64 {
    RESTART_RUNS.fetch_add(1, SeqCst);
    n * 10
}

#[test]
fn a_killed_server_fails_open_and_hits_resume_after_a_restart() {
    let cache = RESTART_CACHE.clone();
    assert_eq!(restart_fn(1), 10);
    assert_eq!(restart_fn(1), 10);
    assert_eq!((cache.stats().hits, cache.stats().errors), (1, 0));

    // Calls keep running on 4 threads while the server is killed.
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for thread in 0..4u64 {
            let stop = &stop;
            scope.spawn(move || {
                for call in 0..400u64 {
                    if stop.load(SeqCst) && call > 20 {
                        break;
                    }
                    let n = (thread * 1000 + call) % 7;
                    assert_eq!(restart_fn(n), n * 10, "every call returns its body's value");
                }
            });
        }
        std::thread::sleep(Duration::from_millis(50));
        RESTART.lock().unwrap().stop();
        stop.store(true, SeqCst);
    });
    for n in 100..105 {
        assert_eq!(restart_fn(n), n * 10);
    }
    assert!(cache.stats().errors > 0, "the failures are counted");

    RESTART.lock().unwrap().restart();
    // The same Cache, with pooled connections to the old process: they are
    // found dead and replaced, and hits resume.
    assert_eq!(restart_fn(42), 420);
    until_a_hit(&cache, || assert_eq!(restart_fn(42), 420));
    let errors = cache.stats().errors;
    for _ in 0..5 {
        assert_eq!(restart_fn(42), 420);
    }
    assert_eq!(cache.stats().errors, errors, "no errors once reconnected");
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
    let setup = Setup::new("mc-fault-two", 2, &[], |builder| builder);
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

/// A listener that accepts connections and never writes a byte; it keeps them
/// open until `stop` is set (or 30 s pass).
fn mute_server(stop: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        let until = Instant::now() + Duration::from_secs(30);
        while !stop.load(SeqCst) && Instant::now() < until {
            if let Ok((stream, _)) = listener.accept() {
                held.push(stream);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    address
}

static MUTE_STOP: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));
static MUTE_ADDRESS: LazyLock<String> = LazyLock::new(|| mute_server(MUTE_STOP.clone()));
static MUTE_CACHE: LazyLock<Cache> = LazyLock::new(|| {
    Cache::builder()
        .memcached(&format!("memcache://{}", *MUTE_ADDRESS))
        .unwrap()
        .connect_timeout(SHORT)
        .io_timeout(SHORT)
        .build()
        .unwrap()
});
static MUTE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &*MUTE_CACHE, name = "mute", tags = ["t"])]
fn mute(n: u64) -> u64 {
    MUTE_RUNS.fetch_add(1, SeqCst);
    n + 1
}

#[test]
fn a_server_that_never_answers_times_out_and_calls_still_return() {
    let started = Instant::now();
    for n in 0..3 {
        assert_eq!(mute(n), n + 1);
    }
    assert_eq!(MUTE_RUNS.load(SeqCst), 3);
    assert!(MUTE_CACHE.stats().errors >= 3);

    // The backend itself: a timeout error naming the server and the command.
    let backend =
        MemcachedBackend::open(&format!("memcache://{}", *MUTE_ADDRESS), &short_options()).unwrap();
    let error = backend.get_many(&["k"]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(error.is_timeout());
    let text = error.to_string();
    assert!(
        text.contains("gets") && text.contains(MUTE_ADDRESS.as_str()),
        "{text}"
    );
    let error = backend.set("k", b"v".to_vec().into(), None).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    // Bounded, not a speed claim: without the timeouts these would never return.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    MUTE_STOP.store(true, SeqCst);
}

#[test]
fn opening_touches_no_network_and_a_closed_port_is_a_backend_error() {
    // Bind and drop: nothing listens on this port now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("memcache://127.0.0.1:{port}");
    let backend = Arc::new(MemcachedBackend::open(&url, &ConnectOptions::default()).unwrap());
    // Lazy: an unresolvable host is no error until it is used.
    MemcachedBackend::open(
        "memcache://no-such-host.invalid:1",
        &ConnectOptions::default(),
    )
    .unwrap();
    let error = backend.get_many(&["k"]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Backend, "{error}");
    assert!(
        error.to_string().contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );
    let cache = Cache::builder().backend(backend).build().unwrap();
    assert!(cache.clean(&["t"]).is_err());
    assert!(cache.clean_all().is_err());
    assert!(cache.server_stats().is_err());
}

static GARBAGE: LazyLock<Setup> =
    LazyLock::new(|| Setup::new("mc-fault-garbage", 1, &[], |builder| builder));
static GARBAGE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &GARBAGE.cache, name = "garbage", key = format!("k{n}"), tags = ["t"])]
fn garbage(n: u64) -> String {
    GARBAGE_RUNS.fetch_add(1, SeqCst);
    format!("value {n}")
}

#[test]
fn another_clients_value_under_our_key_is_a_miss_and_is_overwritten() {
    let setup = &*GARBAGE;
    let address = &setup.addresses()[0];
    let prefix = setup.cache.prefix();
    // Other clients' values: text, binary with our magic, "LZ4-flagged" junk, empty.
    let foreign: [(u64, u32, &[u8]); 4] = [
        (1, 0, b"{\"json\": true}"),
        (2, 0, b"CT\x01\x00 but then nothing of ours"),
        (3, 1 << 16, b"\xff\xff\xff\x7fnot lz4 at all"),
        (4, 7, b""),
    ];
    for (n, flags, bytes) in foreign {
        let key = format!("{prefix}:entry:garbage:k{n}");
        let mut command = format!("set {key} {flags} 0 {}\r\n", bytes.len()).into_bytes();
        command.extend_from_slice(bytes);
        command.extend_from_slice(b"\r\n");
        request(address, &command, &[b"STORED\r\n"]);
        assert_eq!(garbage(n), format!("value {n}"), "a miss");
        assert_eq!(garbage(n), format!("value {n}"), "then a hit");
        let stored = raw_get(address, &key).unwrap();
        assert!(stored.starts_with(b"CT\x01\x00"), "overwritten by ours");
    }
    assert_eq!(GARBAGE_RUNS.load(SeqCst), 4);
    // A tag version can be any bytes another program left.
    request(
        address,
        format!("set {prefix}:tag:t 0 0 3\r\nxyz\r\n").as_bytes(),
        &[b"STORED\r\n"],
    );
    assert_eq!(garbage(1), "value 1", "the tag changed: a miss");
    assert_eq!(garbage(1), "value 1");
    assert_eq!(GARBAGE_RUNS.load(SeqCst), 5);
    assert_eq!(setup.cache.stats().errors, 0);
}

static VERSION_GARBAGE: LazyLock<Setup> =
    LazyLock::new(|| Setup::new("mc-version-garbage", 1, &[], |builder| builder));
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
    let address = &setup.addresses()[0];
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
        (&tag_key, 0, b"CT\x01\x00 an envelope's magic"),
    ];
    for (round, (key, flags, bytes)) in junk.into_iter().enumerate() {
        assert!(
            raw_get(address, key).is_some(),
            "{key} holds a version before it is replaced"
        );
        let mut command = format!("set {key} {flags} 0 {}\r\n", bytes.len()).into_bytes();
        command.extend_from_slice(bytes);
        command.extend_from_slice(b"\r\n");
        request(address, &command, &[b"STORED\r\n"]);
        assert_eq!(versioned(1), "value 1", "a miss");
        assert_eq!(VERSION_GARBAGE_RUNS.load(SeqCst), round + 2);
        assert_eq!(versioned(1), "value 1", "then a hit");
        assert_eq!(VERSION_GARBAGE_RUNS.load(SeqCst), round + 2);
        assert_eq!(
            raw_get(address, key).as_deref(),
            Some(bytes),
            "the junk itself is the version"
        );
    }
    assert_eq!(setup.cache.stats().errors, 0);
}

/// A server that answers any request with `answer` and then closes the connection.
fn liar(answer: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        listener.set_nonblocking(false).unwrap();
        // One connection, bounded in time by its read timeout.
        if let Ok((mut stream, _)) = listener.accept() {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(answer);
        }
    });
    format!("memcache://{address}")
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
        let url = liar(answer);
        let backend = MemcachedBackend::open(&url, &short_options()).unwrap();
        let error = backend.get_many(&["k"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Backend, "{error}");
    }
}
