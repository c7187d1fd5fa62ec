//! The round trips the README's tables give, seen on the wire: a proxy in
//! front of the server counts them (see `support/proxy.rs`), independently
//! of the backends' own `round_trips()` counters, which must agree.

#![cfg(all(feature = "redis", feature = "memcached"))]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::OnceLock;

use cachetool::{cached, Backend, Cache, ConnectOptions, MemcachedBackend, RedisBackend};
use cachetool_test_harness::proxy::Proxy;
use cachetool_test_harness::{Kind, Server};

struct Wire {
    proxy: Proxy,
    cache: Cache,
    /// The backend's own count of its round trips.
    counted: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl Wire {
    fn start(kind: Kind) -> Wire {
        let server = Box::leak(Box::new(Server::start(kind)));
        let proxy = Proxy::start(&server.address());
        let (backend, counted): (
            std::sync::Arc<dyn Backend>,
            Box<dyn Fn() -> u64 + Send + Sync>,
        ) = match kind {
            Kind::Redis => {
                let url = format!("redis://{}/", proxy.address());
                let backend = std::sync::Arc::new(
                    RedisBackend::open(&url, &ConnectOptions::default()).unwrap(),
                );
                let counter = std::sync::Arc::clone(&backend);
                (backend, Box::new(move || counter.round_trips()))
            }
            _ => {
                let url = format!("memcache://{}", proxy.address());
                let backend = std::sync::Arc::new(
                    MemcachedBackend::open(&url, &ConnectOptions::default()).unwrap(),
                );
                let counter = std::sync::Arc::clone(&backend);
                (backend, Box::new(move || counter.round_trips()))
            }
        };
        let cache = Cache::builder()
            .backend(backend)
            .prefix(support::unique_prefix("wire"))
            .build()
            .unwrap();
        Wire {
            proxy,
            cache,
            counted,
        }
    }

    /// Round trips of `f`: (on the wire, by the backend's counter).
    fn cost<T>(&self, f: impl FnOnce() -> T) -> (u64, u64) {
        let (wire, counted) = (self.proxy.round_trips(), (self.counted)());
        f();
        (self.proxy.round_trips() - wire, (self.counted)() - counted)
    }
}

static REDIS: OnceLock<Wire> = OnceLock::new();
static MEMCACHED: OnceLock<Wire> = OnceLock::new();
static RUNS: AtomicUsize = AtomicUsize::new(0);

fn wire(kind: Kind) -> &'static Wire {
    match kind {
        Kind::Redis => REDIS.get_or_init(|| Wire::start(Kind::Redis)),
        _ => MEMCACHED.get_or_init(|| Wire::start(Kind::Memcached)),
    }
}

#[cached(cache = wire(kind).cache, tags = ["a", "b"], key = format!("{kind:?}:{n}"))]
fn tagged(kind: Kind, n: u64) -> u64 {
    RUNS.fetch_add(1, SeqCst);
    n
}

/// A miss (the first caller, lock on): 3 round trips; a hit, tagged: 1;
/// invalidate and clean: 1 each; on both servers, on the wire and by the
/// backends' counters alike.
fn documented_round_trips(kind: Kind) {
    let wire = wire(kind);
    // Warm up: connections open, scripts load.
    tagged(kind, 0);
    tagged(kind, 0);
    assert_eq!(wire.cost(|| tagged(kind, 1)), (3, 3), "a miss");
    assert_eq!(wire.cost(|| tagged(kind, 1)), (1, 1), "a hit");
    assert_eq!(
        wire.cost(|| tagged_invalidate(kind, 1).unwrap()),
        (1, 1),
        "invalidate"
    );
    assert_eq!(
        wire.cost(|| wire.cache.clean(&["a"]).unwrap()),
        (1, 1),
        "clean"
    );
    assert_eq!(
        wire.cost(|| wire.cache.clean_all().unwrap()),
        (1, 1),
        "clean_all"
    );
}

#[test]
fn redis_round_trips_on_the_wire() {
    documented_round_trips(Kind::Redis);
}

#[test]
fn memcached_round_trips_on_the_wire() {
    documented_round_trips(Kind::Memcached);
}
