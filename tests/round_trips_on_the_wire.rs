//! The round trips the README's tables give, seen on the wire: a proxy in
//! front of the server counts them (see `cachetool-test-harness`'s `proxy`),
//! independently of the backends' own `round_trips()` counters, which must
//! agree. Written once, run on each remote backend.

#![cfg(any(feature = "redis", feature = "memcached"))]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock};

use cachetool::{cached, Cache, ConnectOptions};
use cachetool_test_harness::proxy::Proxy;
use cachetool_test_harness::Server;
use support::remote::RemoteBackend;

/// A cache whose backend reaches its server through a counting proxy.
struct Wire<B> {
    _server: Server,
    proxy: Proxy,
    backend: Arc<B>,
    cache: Cache,
}

impl<B: RemoteBackend> Wire<B> {
    fn start() -> Wire<B> {
        let server = Server::start(B::SERVER);
        let proxy = Proxy::start(&server.address());
        let url = B::url(&[proxy.address()]);
        let backend = Arc::new(B::open_url(&url, &ConnectOptions::default()));
        let cache = Cache::builder()
            .backend(backend.clone())
            .prefix(support::unique_prefix("wire"))
            .build()
            .unwrap();
        Wire {
            _server: server,
            proxy,
            backend,
            cache,
        }
    }

    /// Round trips of `f`: (on the wire, by the backend's counter).
    fn cost<T>(&self, f: impl FnOnce() -> T) -> (u64, u64) {
        let (wire, counted) = (self.proxy.round_trips(), self.backend.round_trips());
        f();
        (
            self.proxy.round_trips() - wire,
            self.backend.round_trips() - counted,
        )
    }
}

support::for_each_remote_backend! {
    static WIRE: LazyLock<Wire<Remote>> = LazyLock::new(Wire::start);
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &WIRE.cache, tags = ["a", "b"])]
    fn tagged(n: u64) -> u64 {
        RUNS.fetch_add(1, SeqCst);
        n
    }

    /// A miss (the first caller, lock on): 3 round trips; a hit, tagged: 1;
    /// invalidate and clean: 1 each; on the wire and by the backend's counter alike.
    #[test]
    fn documented_round_trips_on_the_wire() {
        let wire = &*WIRE;
        // Warm up: connections open, scripts load.
        tagged(0);
        tagged(0);
        assert_eq!(wire.cost(|| tagged(1)), (3, 3), "a miss");
        assert_eq!(wire.cost(|| tagged(1)), (1, 1), "a hit");
        assert_eq!(
            wire.cost(|| tagged_invalidate(1).unwrap()),
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
}
