//! Every URL form against a real server: `redis://` with a password and a
//! database, `redis+unix://` and `unix://` sockets, and lazy opening.
//! `rediss://` (TLS) is tested in `redis_tls.rs`, with the `redis-tls` feature.

#![cfg(feature = "redis")]

mod support;

use cachetool::{Cache, ErrorKind};
use cachetool_test_harness::{Kind, Server};
use support::redis::round_trip;

#[test]
fn building_never_connects() {
    // Nothing listens on port 1 or on the socket: building still succeeds.
    let tls = ["rediss://127.0.0.1:1/"];
    let tls = if cfg!(feature = "redis-tls") {
        &tls[..]
    } else {
        &[]
    };
    for url in [
        "redis://127.0.0.1:1/",
        "redis://user:secret@127.0.0.1:1/3",
        "redis+unix:///nonexistent/redis.sock",
        "unix:///nonexistent/redis.sock",
        "redis+cluster://127.0.0.1:1,127.0.0.1:2",
    ]
    .iter()
    .chain(tls)
    {
        let cache = Cache::from_url(url).unwrap_or_else(|error| panic!("{url}: {error}"));
        assert_eq!(cache.backend().name(), "redis");
    }
    for url in [
        "redis://",
        "redis+cluster://",
        "redis+cluster://127.0.0.1:1/2",
        "http://127.0.0.1/",
    ] {
        let error = Cache::from_url(url).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Config, "{url}");
    }
}

#[test]
fn password_and_database() {
    let server = Server::start(Kind::Redis);
    // Set after start: the harness's readiness probe is an unauthenticated PING.
    assert!(server
        .raw(b"CONFIG SET requirepass s3cret\r\n")
        .starts_with(b"+OK"));
    let url = format!("redis://:s3cret@127.0.0.1:{}/3", server.port());
    let cache = Cache::builder()
        .redis(&url)
        .unwrap()
        .prefix("pw")
        .build()
        .unwrap();
    let stats = round_trip(&cache);
    assert_eq!(
        (stats.servers, stats.items),
        (1, 1),
        "the one key is in database 3"
    );

    let wrong = format!("redis://:wrong@127.0.0.1:{}/", server.port());
    let cache = Cache::from_url(&wrong).unwrap();
    let error = cache.backend().get_many(&["k"]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Backend);
    assert!(
        !error.to_string().contains("wrong"),
        "no password in errors: {error}"
    );
}

#[test]
fn unix_sockets() {
    let dir = std::env::temp_dir().join(format!("cachetool-redis-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("redis.sock");
    let socket = socket.to_str().unwrap();
    let _server = Server::start_with(
        Kind::Redis,
        &["--unixsocket", socket, "--unixsocketperm", "700"],
    );
    for url in [format!("redis+unix://{socket}"), format!("unix://{socket}")] {
        let cache = Cache::builder()
            .redis(&url)
            .unwrap()
            .prefix("unix")
            .build()
            .unwrap();
        assert_eq!(round_trip(&cache).servers, 1, "{url}");
    }
    drop(_server);
    let _ = std::fs::remove_dir_all(&dir);
}
