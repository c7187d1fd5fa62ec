//! Faults against real servers: a redis-server stopped and started again
//! under running calls, a server that accepts and never answers, garbage under
//! an entry key, and values over the size limit. Every call still returns its
//! body's value; every loop here is bounded in count and time.

#![cfg(feature = "redis")]

mod support;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use cachetool::{cached, Backend, Cache, ConnectOptions, ErrorKind, RedisBackend};
use support::redis::Setup;

const SHORT: Duration = Duration::from_millis(300);

fn short_timeouts(builder: cachetool::CacheBuilder) -> cachetool::CacheBuilder {
    builder.connect_timeout(SHORT).io_timeout(SHORT)
}

static RESTART: LazyLock<Mutex<Setup>> =
    LazyLock::new(|| Mutex::new(Setup::with_url_cache("fault-restart", SHORT)));
static RESTART_CACHE: LazyLock<Cache> = LazyLock::new(|| RESTART.lock().unwrap().cache.clone());
static RESTART_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &*RESTART_CACHE, tags = ["t"])]
fn restart_fn(n: u64) -> u64 {
    RESTART_RUNS.fetch_add(1, SeqCst);
    n * 10
}

#[test]
fn a_stopped_server_fails_open_and_hits_resume_after_a_restart() {
    let cache = RESTART_CACHE.clone();
    assert_eq!(restart_fn(1), 10);
    assert_eq!(restart_fn(1), 10);
    assert_eq!(cache.stats().hits, 1);
    assert_eq!(cache.stats().errors, 0);

    // Calls keep running on 4 threads while the server stops.
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
        RESTART.lock().unwrap().server.stop();
        stop.store(true, SeqCst);
    });
    for n in 100..105 {
        assert_eq!(restart_fn(n), n * 10);
    }
    let errors = cache.stats().errors;
    assert!(errors > 0, "the failures are counted");

    RESTART.lock().unwrap().server.restart();
    // Hits resume in the same Cache, bounded: the first calls may still meet
    // pooled connections to the old server.
    let hits = cache.stats().hits;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut resumed = false;
    // (Bounded by time first: after failed connects, the back-off pauses
    // reconnecting for up to 5 s.)
    for _ in 0..2000 {
        assert_eq!(restart_fn(42), 420);
        if cache.stats().hits > hits {
            resumed = true;
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no hit within 20 s of the restart"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(resumed, "hits resume after the restart");
}

/// A listener that accepts connections and never writes a byte; it keeps
/// them open until `stop` is set (or 30 s pass).
fn mute_server(stop: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("redis://{}/", listener.local_addr().unwrap());
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
    url
}

static MUTE_STOP: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));
static MUTE_URL: LazyLock<String> = LazyLock::new(|| mute_server(MUTE_STOP.clone()));
static MUTE_CACHE: LazyLock<Cache> = LazyLock::new(|| {
    short_timeouts(Cache::builder().redis(&MUTE_URL).unwrap())
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

    // The backend itself: a timeout error naming the server and the operation.
    let mut options = ConnectOptions::default();
    options.connect_timeout = SHORT;
    options.io_timeout = SHORT;
    let backend = RedisBackend::open(&MUTE_URL, &options).unwrap();
    let error = backend.get_many(&["k"]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(error.is_timeout());
    let text = error.to_string();
    assert!(
        text.contains("MGET")
            && text.contains(
                MUTE_URL
                    .trim_start_matches("redis://")
                    .trim_end_matches('/')
            ),
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
fn a_closed_port_is_a_backend_error_and_calls_still_return() {
    // Bind and drop: nothing listens on this port now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}/");
    let backend = Arc::new(RedisBackend::open(&url, &ConnectOptions::default()).unwrap());
    let error = backend.get_many(&["k"]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Backend, "{error}");
    assert!(
        error.to_string().contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );
    let cache = Cache::builder().backend(backend).build().unwrap();
    assert!(cache.clean(&["t"]).is_err());
    assert!(cache.clean_all().is_err());
}

static GARBAGE: LazyLock<Setup> = LazyLock::new(|| Setup::new("fault-garbage", |builder| builder));
static GARBAGE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &GARBAGE.cache, name = "garbage", key = format!("k{n}"), tags = ["t"])]
fn garbage(n: u64) -> String {
    GARBAGE_RUNS.fetch_add(1, SeqCst);
    format!("good {n}")
}

#[test]
fn garbage_under_an_entry_key_is_a_miss_then_overwritten() {
    let setup = &*GARBAGE;
    let key = setup.entry_key("garbage", "k1");
    let mut conn = setup.raw();
    let junk: [&[u8]; 4] = [b"", b"not ours at all", b"CT\x01\x00short", &[0xff; 100]];
    for (round, junk) in junk.into_iter().enumerate() {
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(junk)
            .query(&mut conn)
            .unwrap();
        assert_eq!(garbage(1), "good 1");
        assert_eq!(GARBAGE_RUNS.load(SeqCst), round + 1, "garbage is a miss");
        let stored: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
        assert!(
            stored.starts_with(b"CT\x01\x00"),
            "overwritten with an envelope: {stored:?}"
        );
        assert_eq!(garbage(1), "good 1");
        assert_eq!(GARBAGE_RUNS.load(SeqCst), round + 1, "then a hit");
    }
    // A value of another type under the key (a list): a miss, then replaced.
    let _: () = redis::cmd("DEL").arg(&key).query(&mut conn).unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg(&key)
        .arg("x")
        .query(&mut conn)
        .unwrap();
    assert_eq!(garbage(1), "good 1");
    assert_eq!(GARBAGE_RUNS.load(SeqCst), 5);
    let stored: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
    assert!(
        stored.starts_with(b"CT\x01\x00"),
        "the list was replaced: {stored:?}"
    );
    assert_eq!(garbage(1), "good 1");
    assert_eq!(GARBAGE_RUNS.load(SeqCst), 5);
    assert_eq!(setup.cache.stats().errors, 0);
}

static OVERSIZED: LazyLock<Setup> =
    LazyLock::new(|| Setup::new("fault-oversized", |builder| builder.max_value_size(1024)));
static OVERSIZED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &OVERSIZED.cache, name = "big")]
fn big(len: usize) -> String {
    OVERSIZED_RUNS.fetch_add(1, SeqCst);
    "x".repeat(len)
}

#[test]
fn oversized_values_are_not_stored_but_returned_and_counted() {
    let setup = &*OVERSIZED;
    assert_eq!(big(10_000).len(), 10_000);
    assert_eq!(big(10_000).len(), 10_000);
    assert_eq!(OVERSIZED_RUNS.load(SeqCst), 2);
    assert_eq!(setup.cache.stats().oversized, 2);
    let entries = setup
        .keys()
        .into_iter()
        .filter(|key| key.windows(7).any(|window| window == b":entry:"))
        .count();
    assert_eq!(entries, 0, "nothing stored");
    // A small value of the same function is stored.
    assert_eq!(big(10), "x".repeat(10));
    assert_eq!(big(10), "x".repeat(10));
    assert_eq!(OVERSIZED_RUNS.load(SeqCst), 3);
}

#[test]
fn a_connect_that_hangs_times_out() {
    // A listener that never accepts: once its accept queue is full, the kernel
    // drops new connection attempts, so a connect hangs until its timeout.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    let mut full = false;
    for _ in 0..2000 {
        match std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)) {
            Ok(stream) => fillers.push(stream),
            Err(_) => {
                full = true;
                break;
            }
        }
    }
    assert!(
        full,
        "the accept queue never filled ({} connections)",
        fillers.len()
    );
    let mut options = ConnectOptions::default();
    options.connect_timeout = SHORT;
    options.io_timeout = SHORT;
    let backend = RedisBackend::open(&format!("redis://{address}/"), &options).unwrap();
    let started = Instant::now();
    let error = backend.get_many(&["k"]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(error.to_string().contains("connect"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    drop(listener);
}
