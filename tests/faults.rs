//! Faults that Redis and Memcached meet the same way, against real servers: a
//! server stopped and started again under running calls, one that accepts
//! and never answers, a port nobody listens on, and another program's values
//! under our keys. Every call still returns its body's value; every loop is
//! bounded in count and time. Written once, run on each remote backend
//! (`redis::...`, `memcached::...`); the faults of one backend only are in
//! `redis_faults.rs` and `memcached_faults.rs`.

#![cfg(any(feature = "redis", feature = "memcached"))]

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use cachetool::{cached, Backend, Cache, ConnectOptions, ErrorKind};
use cachetool_test_harness::faults::{self, Mute};
use cachetool_test_harness::{Client, Kind};
use support::remote::{RemoteBackend, Setup};

const SHORT: Duration = Duration::from_millis(300);

/// The start of every value the cache stores (its envelope's magic and version).
const ENVELOPE: &[u8] = b"CT\x02\x00";

fn short_options() -> ConnectOptions {
    let mut options = ConnectOptions::default();
    options.connect_timeout = SHORT;
    options.io_timeout = SHORT;
    options
}

/// Calls `call` until the cache counts a new hit, at most 400 times and 20 s;
/// panics otherwise.
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

/// A value another program left under a key.
#[derive(Clone, Copy)]
enum Foreign {
    /// Any bytes, which both servers hold.
    Bytes(&'static [u8]),
    /// A Redis list, a type no cache stores.
    List,
    /// Bytes under memcached client flags (`1 << 16` is our LZ4 flag).
    Flagged(u32, &'static [u8]),
}

impl Foreign {
    fn write(self, client: &Client, key: &str) {
        match self {
            Foreign::Bytes(bytes) => client.set(key, bytes),
            Foreign::List => client.set_list(key, "x"),
            Foreign::Flagged(flags, bytes) => client.set_flagged(key, flags, bytes),
        }
    }
}

/// What other programs leave under our keys on `server`: text, binary, our
/// magic on bytes that are not ours, nothing; and what only that server holds.
fn foreign_values(server: Kind) -> Vec<Foreign> {
    let mut values = vec![
        Foreign::Bytes(b""),
        Foreign::Bytes(b"not ours at all"),
        Foreign::Bytes(b"{\"json\": true}"),
        Foreign::Bytes(b"CT\x02\x00short"),
        Foreign::Bytes(b"CT\x02\x00 but then nothing of ours"),
        Foreign::Bytes(&[0xff; 100]),
    ];
    match server {
        Kind::Redis => values.push(Foreign::List),
        Kind::Memcached => values.extend([
            Foreign::Flagged(1 << 16, b"\xff\xff\xff\x7fnot lz4 at all"),
            Foreign::Flagged(7, b""),
        ]),
    }
    values
}

support::for_each_remote_backend! {
    static RESTART: LazyLock<Mutex<Setup<Remote>>> =
        LazyLock::new(|| Mutex::new(Setup::with_url_cache("fault-restart", SHORT)));
    static RESTART_CACHE: LazyLock<Cache> =
        LazyLock::new(|| RESTART.lock().unwrap().cache.clone());
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
        assert_eq!((cache.stats().hits, cache.stats().errors), (1, 0));

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
            RESTART.lock().unwrap().server().stop();
            stop.store(true, SeqCst);
        });
        for n in 100..105 {
            assert_eq!(restart_fn(n), n * 10);
        }
        assert!(cache.stats().errors > 0, "the failures are counted");

        RESTART.lock().unwrap().server().restart();
        // The same Cache, with pooled connections to the old process: they
        // are found dead and replaced, and hits resume (after failed
        // connects, Redis pauses reconnecting for up to 5 s).
        assert_eq!(restart_fn(42), 420);
        until_a_hit(&cache, || assert_eq!(restart_fn(42), 420));
        let errors = cache.stats().errors;
        for _ in 0..5 {
            assert_eq!(restart_fn(42), 420);
        }
        assert_eq!(cache.stats().errors, errors, "no errors once reconnected");
    }

    static MUTE: LazyLock<Mute> = LazyLock::new(Mute::start);
    static MUTE_CACHE: LazyLock<Cache> = LazyLock::new(|| {
        Cache::builder()
            .url(&Remote::url(&[MUTE.address()]))
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
        let backend = Remote::open_url(&Remote::url(&[MUTE.address()]), &short_options());
        let error = backend.get_many(&["k"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
        assert!(error.is_timeout());
        let text = error.to_string();
        assert!(
            text.contains(Remote::READ_COMMAND) && text.contains(MUTE.address()),
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
        MUTE.stop();
    }

    #[test]
    fn opening_touches_no_network_and_a_closed_port_is_a_backend_error() {
        let address = format!("127.0.0.1:{}", faults::closed_port());
        let backend = Arc::new(Remote::open_url(&Remote::url(&[&address]), &ConnectOptions::default()));
        // Lazy: an unresolvable host is no error until it is used.
        Remote::open_url(
            &Remote::url(&["no-such-host.invalid:1"]),
            &ConnectOptions::default(),
        );
        let error = backend.get_many(&["k"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Backend, "{error}");
        assert!(error.to_string().contains(&address), "{error}");
        let cache = Cache::builder().backend(backend).build().unwrap();
        assert!(cache.clean(&["t"]).is_err());
        assert!(cache.clean_all().is_err());
        assert!(cache.server_stats().is_err());
    }

    static GARBAGE: LazyLock<Setup<Remote>> =
        LazyLock::new(|| Setup::new("fault-garbage", |builder| builder));
    static GARBAGE_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &GARBAGE.cache, name = "garbage", key = format!("k{n}"), tags = ["t"])]
    fn garbage(n: u64) -> String {
        GARBAGE_RUNS.fetch_add(1, SeqCst);
        format!("value {n}")
    }

    #[test]
    fn another_programs_value_under_our_key_is_a_miss_then_overwritten() {
        let setup = &*GARBAGE;
        let client = setup.client();
        let key = setup.entry_key("garbage", "k1");
        let foreign = foreign_values(Remote::SERVER);
        for (round, value) in foreign.iter().enumerate() {
            value.write(&client, &key);
            assert_eq!(garbage(1), "value 1");
            assert_eq!(GARBAGE_RUNS.load(SeqCst), round + 1, "a miss");
            let stored = client.get(&key).expect("stored");
            assert!(stored.starts_with(ENVELOPE), "overwritten by ours: {stored:?}");
            assert_eq!(garbage(1), "value 1");
            assert_eq!(GARBAGE_RUNS.load(SeqCst), round + 1, "then a hit");
        }
        // A tag version can be any bytes another program left.
        client.set(&format!("{}:tag:t", setup.cache.prefix()), b"xyz");
        assert_eq!(garbage(1), "value 1", "the tag changed: a miss");
        assert_eq!(garbage(1), "value 1");
        assert_eq!(GARBAGE_RUNS.load(SeqCst), foreign.len() + 1);
        assert_eq!(setup.cache.stats().errors, 0);
    }
}
