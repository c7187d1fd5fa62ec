//! Settings that can't work are refused by `build()` with a `Config` error
//! naming the setting, instead of failing every call later.

use std::time::Duration;

use cachetool::{Cache, ErrorKind};

fn refused(builder: cachetool::CacheBuilder) -> String {
    let error = builder.build().expect_err("the builder must refuse this");
    assert_eq!(error.kind(), ErrorKind::Config, "{error}");
    error.to_string()
}

#[test]
fn zero_timeouts_are_refused_naming_the_setting() {
    let message = refused(Cache::builder().connect_timeout(Duration::ZERO));
    assert!(message.contains("connect_timeout"), "{message}");
    let message = refused(Cache::builder().io_timeout(Duration::ZERO));
    assert!(message.contains("io_timeout"), "{message}");
    let message = refused(Cache::builder().lock_timeout(Duration::ZERO));
    assert!(message.contains("lock timeout"), "{message}");
}

#[cfg(feature = "redis")]
#[test]
fn zero_timeouts_are_refused_with_redis() {
    let builder = Cache::builder().redis("redis://127.0.0.1:1/").unwrap();
    let message = refused(builder.io_timeout(Duration::ZERO));
    assert!(message.contains("io_timeout"), "{message}");
}

#[cfg(feature = "memcached")]
#[test]
fn zero_timeouts_are_refused_with_memcached() {
    let builder = Cache::builder()
        .memcached("memcache://127.0.0.1:1")
        .unwrap();
    let message = refused(builder.io_timeout(Duration::ZERO));
    assert!(message.contains("io_timeout"), "{message}");
    let builder = Cache::builder()
        .memcached("memcache://127.0.0.1:1")
        .unwrap();
    let message = refused(builder.connect_timeout(Duration::ZERO));
    assert!(message.contains("connect_timeout"), "{message}");
}

/// The first `:` of a key ends its prefix: a prefix with one could name
/// another prefix's tags ("iso:tag" + ":epoch" is prefix "iso"'s tag "epoch").
#[test]
fn a_prefix_with_a_colon_is_refused() {
    for prefix in ["iso:tag", "app:", ":app"] {
        let message = refused(Cache::builder().prefix(prefix));
        assert!(message.contains("`:`"), "{message}");
    }
    assert!(Cache::builder().prefix("iso.tag-1_x").build().is_ok());
}

#[test]
fn the_longest_durations_are_accepted() {
    let cache = Cache::builder()
        .ttl(Duration::MAX)
        .lock_timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .io_timeout(Duration::MAX)
        .build()
        .expect("every duration the API accepts works");
    assert_eq!(cache.default_ttl(), None, "Duration::MAX is no expiry");
    assert!(cache.lock_timeout() >= Duration::from_secs(99 * 365 * 24 * 3600));
}
