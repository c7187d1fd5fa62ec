//! `rediss://` against a real server with a certificate of a private CA made
//! by `openssl` (`support/tls.rs`): a round trip, and errors that say TLS
//! failed and why, sync and async. (`rediss+cluster://` is tested in
//! `redis_tls_cluster.rs`.) Needs the `redis-tls` feature (`redis` alone compiles no TLS stack).

#![cfg(feature = "redis-tls")]

mod support;

use std::sync::OnceLock;
use std::time::Duration;

use cachetool::{Backend, Cache, ConnectOptions, Error, ErrorKind, RedisBackend};
use support::redis::round_trip;
use support::warnings;

/// The error of a sync read, and of an async one, through new backends for `url`.
fn read_errors(url: &str, options: &ConnectOptions) -> Vec<Error> {
    let backend = RedisBackend::open(url, options).unwrap();
    #[cfg_attr(not(feature = "tokio"), allow(unused_mut))]
    let mut errors = vec![backend.get_many(&["k"]).unwrap_err()];
    #[cfg(feature = "tokio")]
    {
        let backend = RedisBackend::open(url, options).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let aio = backend.as_async().unwrap();
        errors.push(runtime.block_on(aio.get_many(&["k"])).unwrap_err());
    }
    errors
}

#[test]
fn tls_with_a_certificate_the_system_does_not_trust() {
    let (server, tls_port, certificates) = cachetool_test_harness::tls::redis_server("tls", &[]);
    // `#insecure`: the certificate's CA is not among the system's roots, so it is not verified.
    let url = format!("rediss://127.0.0.1:{tls_port}/#insecure");
    let cache = Cache::builder()
        .redis(&url)
        .unwrap()
        .prefix("tls")
        .build()
        .unwrap();
    assert_eq!(round_trip(&cache).servers, 1);

    // Verified against the system roots, it is refused, and the error says
    // that TLS failed and why, sync and async.
    let verified = format!("rediss://127.0.0.1:{tls_port}/");
    for error in read_errors(&verified, &ConnectOptions::default()) {
        let text = error.to_string();
        assert_eq!(error.kind(), ErrorKind::Backend, "{text}");
        assert!(
            text.contains("TLS failed") && text.contains("certificate was rejected"),
            "{text}"
        );
        assert!(text.contains(&format!("127.0.0.1:{tls_port}")), "{text}");
    }
    // So does the warning of a cached call, which still returns its value.
    let cache = TLS_CACHE.get_or_init(|| Cache::from_url(&verified).unwrap());
    let (value, warnings) = warnings::capture(seven);
    assert_eq!(value, 7);
    assert_eq!(cache.stats().errors, 1);
    assert!(
        warnings
            .iter()
            .any(|warning| warning.contains("TLS failed")),
        "{warnings:?}"
    );
    drop(server);
    drop(certificates);
}

static TLS_CACHE: OnceLock<Cache> = OnceLock::new();

#[cachetool::cached(cache = TLS_CACHE.get().unwrap())]
fn seven() -> u64 {
    7
}

#[test]
fn tls_failures_say_why() {
    let (server, tls_port, certificates) =
        cachetool_test_harness::tls::redis_server("tls-why", &[]);
    let mut options = ConnectOptions::default();
    options.io_timeout = Duration::from_millis(300);

    // A plain port behind a rediss:// URL: no TLS answer ever comes.
    let plain = format!("rediss://127.0.0.1:{}/#insecure", server.port());
    for error in read_errors(&plain, &options) {
        let text = error.to_string();
        assert!(
            text.contains("TLS failed") && text.contains("in time"),
            "{text}"
        );
    }

    // A server that requires client certificates.
    assert!(server
        .raw(b"CONFIG SET tls-auth-clients yes\r\n")
        .starts_with(b"+OK"));
    let url = format!("rediss://127.0.0.1:{tls_port}/#insecure");
    for error in read_errors(&url, &options) {
        let text = error.to_string();
        assert!(
            text.contains("TLS failed") && text.contains("client certificate"),
            "{text}"
        );
    }
    drop(server);
    drop(certificates);
}
