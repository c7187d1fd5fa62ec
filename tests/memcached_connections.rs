//! The Memcached backend's connections, as the README promises them and as
//! the servers see them: a server that refused a connection is not dialed
//! again for 250 ms (calls to it fail at once meanwhile), then it is; and at
//! most 32 idle connections stay open per server, which later calls reuse.
//!
//! Dials are counted by a proxy in front of a real memcached (its accepted
//! connections, `cachetool-test-harness`'s `proxy`), open connections by memcached itself
//! (`curr_connections`, `total_connections` of `stats`). Nothing is timed
//! against a margin: "no dial within the pause" is only concluded for calls
//! that ended within 250 ms of the refused one's start, as the test measured
//! them; "a dial after it" is waited for.

#![cfg(feature = "memcached")]

use std::error::Error as _;
use std::io;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use cachetool::{Backend, ConnectOptions, MemcachedBackend};
use cachetool_test_harness::memcached::stats;
use cachetool_test_harness::proxy::Proxy;
use cachetool_test_harness::{Kind, Server};

/// The README's redial pause.
const PAUSE: Duration = Duration::from_millis(250);
/// The README's idle connections per server.
const MAX_IDLE: u64 = 32;
/// How long a test waits for an event (a dial, connections closing) before failing.
const PATIENCE: Duration = Duration::from_secs(20);

fn options(io_timeout: Duration) -> ConnectOptions {
    let mut options = ConnectOptions::default();
    options.connect_timeout = Duration::from_secs(5);
    options.io_timeout = io_timeout;
    options
}

/// The I/O error under a backend error.
fn io_error(error: &cachetool::Error) -> &io::Error {
    error
        .source()
        .and_then(|source| source.downcast_ref::<io::Error>())
        .unwrap_or_else(|| panic!("no I/O error under {error}"))
}

/// Whether `error` is the pause's own (no dial: the OS gave no error number)
/// rather than a refusal the OS reported for a dial.
fn is_the_pause(error: &cachetool::Error) -> bool {
    let io = io_error(error);
    io.raw_os_error().is_none() && io.to_string().contains("250 ms")
}

/// What one try of the pause test saw.
enum Try {
    /// Everything checked.
    Passed,
    /// The machine stalled: the second call ended too late to tell anything
    /// about the pause, or the freed port was taken meanwhile. Try again.
    Inconclusive(String),
}

/// Refuses a dial (nothing listens on a freed port), then listens there
/// (a proxy to `memcached`): a call within the pause must not dial, and a
/// call after it must, once.
fn try_the_pause(memcached: &Server) -> Try {
    let address = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    // The listener is dropped: connections to `address` are refused now.
    let backend =
        MemcachedBackend::open(&format!("memcache://{address}"), &options(PATIENCE)).unwrap();

    let started = Instant::now();
    let refused = backend.get_many(&["k"]).unwrap_err();
    assert_eq!(
        io_error(&refused).kind(),
        io::ErrorKind::ConnectionRefused,
        "{refused}"
    );
    assert!(
        !is_the_pause(&refused),
        "the first call dials and the OS refuses it: {refused}"
    );

    // From now on a dial would succeed, and be counted.
    let proxy = match Proxy::start_at(&address, &memcached.address()) {
        Ok(proxy) => proxy,
        Err(error) => return Try::Inconclusive(format!("{address} was taken meanwhile: {error}")),
    };
    let within = backend.get_many(&["k"]);
    let elapsed = started.elapsed();
    if elapsed >= PAUSE {
        return Try::Inconclusive(format!(
            "the second call ended {elapsed:?} after the first began"
        ));
    }
    // The pause began when the first call's dial failed, after `started`: so
    // it had not ended when the second call did.
    let error = match within {
        Ok(_) => panic!("a call {elapsed:?} after a refused dial dialed again, within the pause"),
        Err(error) => error,
    };
    assert!(
        is_the_pause(&error),
        "failed at once, without a dial: {error}"
    );
    assert_eq!(proxy.accepted(), 0, "no dial within the pause");

    // After the pause a call dials, and reaches the server.
    let deadline = Instant::now() + PATIENCE;
    loop {
        match backend.get_many(&["k"]) {
            Ok(values) => {
                assert!(matches!(&values[..], [None]), "a miss");
                break;
            }
            Err(error) => assert!(is_the_pause(&error), "only the pause fails: {error}"),
        }
        assert!(
            Instant::now() < deadline,
            "no dial within {PATIENCE:?} of a refused one"
        );
        // Pacing the polls, not standing in for an event: each one is checked.
        std::thread::sleep(Duration::from_millis(2));
    }
    let dialed_after = started.elapsed();
    assert!(
        dialed_after >= PAUSE,
        "dialed again {dialed_after:?} after the refused dial began"
    );
    assert_eq!(proxy.accepted(), 1, "one dial once the pause ended");
    Try::Passed
}

#[test]
fn a_server_that_refused_a_connection_is_not_dialed_again_for_250_ms() {
    let memcached = Server::start(Kind::Memcached);
    let mut stalls = Vec::new();
    // Bounded: a machine that stalls five times running fails the test.
    for _ in 0..5 {
        match try_the_pause(&memcached) {
            Try::Passed => return,
            Try::Inconclusive(why) => stalls.push(why),
        }
    }
    panic!("the pause could not be observed: every try stalled: {stalls:?}");
}

/// More concurrent calls per server than idle connections are kept.
const CONCURRENT: usize = 40;

/// `memcached`'s current and total connections, the `stats` request's own
/// included (memcached 1.6 counts client connections only in the current
/// ones: one for the request itself when no other is open).
fn connections(memcached: &Server) -> (u64, u64) {
    let stats = stats(&memcached.address());
    (stats["curr_connections"], stats["total_connections"])
}

/// Waits until `memcached` has `open` connections besides the `stats`
/// request's own (they close asynchronously, through the proxy, as do the
/// earlier `stats` requests'); fails after [`PATIENCE`].
fn until_open(memcached: &Server, open: u64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = connections(memcached).0 - 1;
        if now == open {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{now} connections open at {}, not {open}",
            memcached.address()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn at_most_32_idle_connections_stay_open_per_server_and_are_reused() {
    let servers = [
        Server::start(Kind::Memcached),
        Server::start(Kind::Memcached),
    ];
    // Each proxy holds its connections until CONCURRENT are open: the calls
    // below can only end once each server has that many at once.
    let proxies: Vec<Proxy> = servers
        .iter()
        .map(|server| Proxy::start_gated(&server.address(), CONCURRENT))
        .collect();
    let url = format!(
        "memcache://{},{}",
        proxies[0].address(),
        proxies[1].address()
    );
    // Calls wait at the gate: an I/O timeout long enough for all to arrive.
    let backend = MemcachedBackend::open(&url, &options(PATIENCE)).unwrap();
    let keys: Vec<Vec<String>> = proxies
        .iter()
        .map(|proxy| {
            let keys: Vec<String> = (0..100_000)
                .map(|n| format!("k{n}"))
                .filter(|key| backend.server_of(key) == proxy.address())
                .take(CONCURRENT)
                .collect();
            assert_eq!(keys.len(), CONCURRENT, "keys of {}", proxy.address());
            keys
        })
        .collect();
    for server in &servers {
        until_open(server, 0);
    }

    std::thread::scope(|scope| {
        for key in keys.iter().flatten() {
            let backend = &backend;
            scope.spawn(move || {
                let values = backend.get_many(&[key.as_str()]).unwrap();
                assert!(matches!(&values[..], [None]), "a miss");
            });
        }
    });
    for (server, proxy) in servers.iter().zip(&proxies) {
        assert_eq!(
            proxy.accepted(),
            CONCURRENT as u64,
            "one connection per concurrent call"
        );
        // The calls are done: all but MAX_IDLE of their connections are closed.
        until_open(server, MAX_IDLE);
    }

    // Later calls, never more than MAX_IDLE at once per server, dial nothing.
    let before: Vec<u64> = servers.iter().map(|server| connections(server).1).collect();
    std::thread::scope(|scope| {
        for keys in &keys {
            for key in &keys[..MAX_IDLE as usize] {
                let backend = &backend;
                scope.spawn(move || {
                    for _ in 0..20 {
                        let values = backend.get_many(&[key.as_str()]).unwrap();
                        assert!(matches!(&values[..], [None]), "a miss");
                    }
                });
            }
        }
    });
    for (server, (proxy, before)) in servers.iter().zip(proxies.iter().zip(&before)) {
        let (_, total) = connections(server);
        assert_eq!(
            total - before,
            1,
            "no connection but this `stats` one was opened at {}",
            server.address()
        );
        assert_eq!(proxy.accepted(), CONCURRENT as u64, "no dial");
        until_open(server, MAX_IDLE);
    }
}
