//! The timeouts a remote backend's own `open` accepts: a zero connect or I/O
//! timeout is a `Config` error naming the setting (before, zero meant "no
//! timeout at all" on Memcached and "every call fails" elsewhere), and the
//! longest, `Duration::MAX`, works against real servers (no deadline
//! arithmetic overflows).

#![cfg(any(feature = "redis", feature = "memcached"))]

use std::time::Duration;

use cachetool::{Backend, ConnectOptions, ErrorKind, Result};
use cachetool_test_harness::{Kind, Server};

fn options(connect_timeout: Duration, io_timeout: Duration) -> ConnectOptions {
    let mut options = ConnectOptions::default();
    options.connect_timeout = connect_timeout;
    options.io_timeout = io_timeout;
    options
}

/// Each zero timeout, with the name of its setting.
fn zero_timeouts() -> [(ConnectOptions, &'static str); 3] {
    let second = Duration::from_secs(1);
    [
        (options(Duration::ZERO, second), "connect_timeout"),
        (options(second, Duration::ZERO), "io_timeout"),
        (options(Duration::ZERO, Duration::ZERO), "connect_timeout"),
    ]
}

fn assert_refused<T>(opened: Result<T>, setting: &str) {
    let Err(error) = opened else {
        panic!("a zero {setting} was accepted");
    };
    assert_eq!(error.kind(), ErrorKind::Config, "{error}");
    assert!(error.to_string().contains(setting), "{error}");
}

/// Stores, reads and deletes one key through `backend`, blocking.
fn round_trip(backend: &dyn Backend) {
    backend
        .set("connect-options:k", b"v".to_vec().into(), None)
        .unwrap();
    let values = backend.get_many(&["connect-options:k"]).unwrap();
    assert_eq!(
        values[0].as_ref().and_then(|v| v.as_bytes()),
        Some(&b"v"[..])
    );
    backend.delete_many(&["connect-options:k"]).unwrap();
}

#[cfg(feature = "redis")]
#[test]
fn redis_refuses_zero_timeouts_and_takes_the_longest() {
    use cachetool::RedisBackend;
    for url in [
        "redis://127.0.0.1:1/",
        "redis+cluster://127.0.0.1:1,127.0.0.1:2",
    ] {
        for (options, setting) in zero_timeouts() {
            assert_refused(RedisBackend::open(url, &options), setting);
        }
    }
    let server = Server::start(Kind::Redis);
    let longest = options(Duration::MAX, Duration::MAX);
    let backend = RedisBackend::open(&server.url(), &longest).unwrap();
    round_trip(&backend);
    #[cfg(feature = "tokio")]
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let aio = backend.as_async().unwrap();
        runtime.block_on(async {
            aio.set("connect-options:a", b"v".to_vec().into(), None)
                .await
                .unwrap();
            let values = aio.get_many(&["connect-options:a"]).await.unwrap();
            assert!(values[0].is_some());
        });
    }
}

#[cfg(feature = "memcached")]
#[test]
fn memcached_refuses_zero_timeouts_and_takes_the_longest() {
    use cachetool::MemcachedBackend;
    for (options, setting) in zero_timeouts() {
        assert_refused(
            MemcachedBackend::open("memcache://127.0.0.1:1", &options),
            setting,
        );
    }
    let server = Server::start(Kind::Memcached);
    let longest = options(Duration::MAX, Duration::MAX);
    let backend = MemcachedBackend::open(&server.url(), &longest).unwrap();
    round_trip(&backend);
}
