//! The cross-process lock: taken with `add` and an expiry, released only while
//! it still holds our token (meta delete with the cas id read with our token),
//! so a caller whose lock expired never releases the lock another caller took.

#![cfg(feature = "memcached")]

use std::time::{Duration, Instant};

use cachetool::{Backend, ConnectOptions, LockRequest, MemcachedBackend};
use cachetool_test_harness::memcached::raw_get;
use cachetool_test_harness::{Kind, Server};

fn take(backend: &MemcachedBackend, key: &str, token: u64, ttl: Duration) -> bool {
    let lock = LockRequest::new(key, token, ttl);
    backend
        .begin_load(Some(lock), &[], &[], "entry")
        .unwrap()
        .locked
}

#[test]
fn an_expired_lock_taken_by_another_is_not_released_by_its_first_owner() {
    let server = Server::start(Kind::Memcached);
    let first = MemcachedBackend::open(&server.url(), &ConnectOptions::default()).unwrap();
    let second = MemcachedBackend::open(&server.url(), &ConnectOptions::default()).unwrap();
    let key = "p:lock:f:1";
    // Memcached keeps time in whole seconds: a 2 s lock lives at least 1 s.
    assert!(take(&first, key, 1, Duration::from_secs(2)));
    let taken = Instant::now();
    let held = !take(&second, key, 2, Duration::from_secs(30));
    if taken.elapsed() < Duration::from_secs(1) {
        assert!(held, "a lock is held until it expires");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !take(&second, key, 2, Duration::from_secs(30)) {
        assert!(Instant::now() < deadline, "the lock expires");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The first owner releases late: the lock is the second's now and stays.
    first.unlock(key, 1).unwrap();
    assert_eq!(raw_get(&server.address(), key).as_deref(), Some(&b"2"[..]));
    // The second releases it in one round trip (its cas id was noted when taken).
    let trips = second.round_trips();
    second.unlock(key, 2).unwrap();
    assert_eq!(second.round_trips() - trips, 1);
    assert_eq!(raw_get(&server.address(), key), None);
}

#[test]
fn a_lock_is_released_by_its_token_only() {
    let server = Server::start(Kind::Memcached);
    let owner = MemcachedBackend::open(&server.url(), &ConnectOptions::default()).unwrap();
    let other = MemcachedBackend::open(&server.url(), &ConnectOptions::default()).unwrap();
    let key = "p:lock:f:2";
    assert!(take(&owner, key, 7, Duration::from_secs(30)));
    // Another token: a read, no delete.
    other.unlock(key, 8).unwrap();
    assert_eq!(raw_get(&server.address(), key).as_deref(), Some(&b"7"[..]));
    // The right token from an instance that did not take it: read, then delete by cas.
    let trips = other.round_trips();
    other.unlock(key, 7).unwrap();
    assert_eq!(other.round_trips() - trips, 2);
    assert_eq!(raw_get(&server.address(), key), None);
    // Releasing a lock that is gone is fine.
    owner.unlock(key, 7).unwrap();
    let values = owner.get_many(&[key]).unwrap();
    assert!(values.iter().all(Option::is_none));
}
