//! `rediss://` against a real server with a self-signed certificate made by
//! `openssl`: a round trip, and errors that say TLS failed and why, sync and
//! async. Needs the `redis-tls` feature (`redis` alone compiles no TLS stack).

#![cfg(feature = "redis-tls")]

mod support;

use std::net::TcpListener;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use cachetool::{Backend, Cache, ConnectOptions, Error, ErrorKind, RedisBackend};
use support::server::{Kind, Server};
use support::warnings;

/// Stores and reads one value through `cache`'s backend and returns the server stats.
fn round_trip(cache: &Cache) -> cachetool::ServerStats {
    let key = format!("{}:entry:f:1", cache.prefix());
    let backend = cache.backend();
    backend
        .set(
            &key,
            b"value".to_vec().into(),
            Some(Duration::from_secs(60)),
        )
        .expect("set");
    let values = backend.get_many(&[&key]).expect("get");
    assert_eq!(
        values[0].as_ref().and_then(|value| value.as_bytes()),
        Some(&b"value"[..])
    );
    cache.server_stats().expect("server stats")
}

/// A redis-server with a TLS port besides its plain one, on a self-signed
/// certificate made by `openssl` in `dir`: the server and its TLS port.
fn tls_server(name: &str) -> (Server, u16, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("cachetool-redis-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("`openssl` makes the test certificate: apt-get install -y openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let tls_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = Server::start_with(
        Kind::Redis,
        &[
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            cert,
            "--tls-key-file",
            key,
            "--tls-ca-cert-file",
            cert,
            "--tls-auth-clients",
            "no",
        ],
    );
    (server, tls_port, dir)
}

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
fn tls_with_a_self_signed_certificate() {
    let (server, tls_port, dir) = tls_server("tls");
    // `#insecure`: the certificate is self-signed, so it is not verified.
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
    let _ = std::fs::remove_dir_all(&dir);
}

static TLS_CACHE: OnceLock<Cache> = OnceLock::new();

#[cachetool::cached(cache = TLS_CACHE.get().unwrap())]
fn seven() -> u64 {
    7
}

#[test]
fn tls_failures_say_why() {
    let (server, tls_port, dir) = tls_server("tls-why");
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
    let _ = std::fs::remove_dir_all(&dir);
}
