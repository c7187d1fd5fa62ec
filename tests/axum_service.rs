//! Drives `examples/axum.rs` over loopback HTTP: a cached handler, an update
//! that cleans its user's tag, and the cache's metrics at `/metrics`.
#![cfg(all(feature = "tokio", feature = "metrics"))]

#[path = "../examples/axum.rs"]
#[allow(dead_code, unreachable_pub)]
mod service;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 request; the status code and the body.
async fn request(address: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: text/plain\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_string();
    (status, body)
}

/// The value of `name{function=.., cache=..}` on a Prometheus text page.
fn sample(page: &str, name: &str, function: &str, cache: &str) -> Option<f64> {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| {
            line.split_once('{')
                .is_some_and(|(metric, _)| metric == name)
                && line.contains(&format!("function=\"{function}\""))
                && line.contains(&format!("cache=\"{cache}\""))
        })
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_handler_is_cleaned_by_an_update() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, service::app()).await.unwrap() });

    let run = async {
        assert_eq!(
            request(address, "GET", "/users/7", "").await,
            (200, "7 user 7".into())
        );
        assert_eq!(
            request(address, "GET", "/users/7", "").await,
            (200, "7 user 7".into())
        );
        assert_eq!(
            request(address, "GET", "/stats", "").await.1,
            "database_reads=1 hits=1 misses=1"
        );

        assert_eq!(request(address, "POST", "/users/7", "Ada").await.0, 204);
        assert_eq!(
            request(address, "GET", "/users/7", "").await,
            (200, "7 Ada".into())
        );
        assert_eq!(
            request(address, "GET", "/users/8", "").await,
            (200, "8 user 8".into())
        );
        assert_eq!(
            request(address, "GET", "/users/8", "").await,
            (200, "8 user 8".into())
        );
        assert_eq!(
            request(address, "GET", "/stats", "").await.1,
            "database_reads=3 hits=2 misses=3"
        );

        // An absent user is cached too (None is a value): one read for two misses of it.
        assert_eq!(request(address, "GET", "/users/999", "").await.0, 404);
        assert_eq!(request(address, "GET", "/users/999", "").await.0, 404);
        assert_eq!(
            request(address, "GET", "/stats", "").await.1,
            "database_reads=4 hits=3 misses=4"
        );

        let (status, page) = request(address, "GET", "/metrics", "").await;
        assert_eq!(status, 200);
        let metric =
            |name: &str| sample(&page, name, "axum_service.service.load_user", "cachetool");
        assert_eq!(metric("cachetool_hits_total"), Some(3.0), "{page}");
        assert_eq!(metric("cachetool_misses_total"), Some(4.0), "{page}");
        assert_eq!(metric("cachetool_loads_total"), Some(4.0), "{page}");
        assert_eq!(metric("cachetool_load_errors_total"), Some(0.0), "{page}");
        assert_eq!(metric("cachetool_load_seconds_count"), Some(4.0), "{page}");
        assert!(
            metric("cachetool_load_seconds_sum").is_some_and(|sum| sum > 0.0),
            "{page}"
        );
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the service answered in time");
}
