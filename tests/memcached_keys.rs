//! Keys Memcached would refuse (over 250 bytes, spaces, newlines, control
//! characters, non-ASCII) through every backend method, and in prefixes: every
//! key sent is valid. Keys from `key = ...`, on Memcached and Redis alike, are
//! in `keys.rs`.

#![cfg(feature = "memcached")]

mod support;

use cachetool::{Backend, Value};
use support::memcached::Setup;

#[test]
fn every_backend_method_takes_hostile_keys() {
    let setup = Setup::new("mc-keys-methods", |builder| builder);
    let backend = &setup.backend;
    let prefix = setup.cache.prefix();
    let long = "k".repeat(10_000);
    let entry = format!("{prefix}:entry:<a.B<u8> as c.D>.get:{long} \r\n\0");
    let tag = format!("{prefix}:tag:user name\n7");
    let lock = format!("{prefix}:lock:<a.B<u8> as c.D>.get:{long} \r\n\0");
    let epoch = format!("{prefix}:epoch");

    let start = backend
        .begin_load(
            Some(cachetool::LockRequest::new(
                &lock,
                7,
                std::time::Duration::from_secs(30),
            )),
            &[&epoch, &tag],
            &[b"1".to_vec().into(), b"2".to_vec().into()],
            &entry,
        )
        .unwrap();
    assert!(start.locked);
    assert!(start.entry.is_none());
    let versions: Vec<&[u8]> = start
        .versions
        .iter()
        .map(|v| v.as_bytes().unwrap())
        .collect();
    assert_eq!(versions, [&b"1"[..], &b"2"[..]]);
    assert!(backend
        .replace_if(&entry, None, b"v1".to_vec().into(), None, None)
        .unwrap());
    assert!(!backend
        .replace_if(&entry, None, b"v2".to_vec().into(), None, None)
        .unwrap());
    let seen: Value = b"v1".to_vec().into();
    assert!(backend
        .replace_if(&entry, Some(&seen), b"v2".to_vec().into(), None, None)
        .unwrap());
    assert!(!backend
        .replace_if(&entry, Some(&seen), b"v3".to_vec().into(), None, None)
        .unwrap());
    backend.unlock(&lock, 7).unwrap();
    let values = backend.get_many(&[&entry, &tag, &lock]).unwrap();
    assert_eq!(
        values[0].as_ref().and_then(Value::as_bytes),
        Some(&b"v2"[..])
    );
    assert_eq!(
        values[1].as_ref().and_then(Value::as_bytes),
        Some(&b"2"[..])
    );
    assert!(values[2].is_none(), "unlocked");
    backend.delete_many(&[&entry, &tag]).unwrap();
    assert_eq!(
        backend
            .get_many(&[&entry, &tag])
            .unwrap()
            .iter()
            .flatten()
            .count(),
        0
    );
}

#[test]
fn long_and_odd_prefixes_work() {
    for prefix in ["p".repeat(300), "ü~<x>".to_owned(), "a".to_owned()] {
        let setup = Setup::new("mc-keys-prefix", |builder| builder);
        let cache = cachetool::Cache::builder()
            .backend(setup.backend.clone())
            .prefix(prefix.clone())
            .build()
            .unwrap();
        let entry = format!("{prefix}:entry:f:1");
        cache
            .backend()
            .set(&entry, b"x".to_vec().into(), None)
            .unwrap();
        let got = cache.backend().get_many(&[&entry]).unwrap();
        assert_eq!(
            got[0].as_ref().and_then(Value::as_bytes),
            Some(&b"x"[..]),
            "{prefix}"
        );
        cache.clean_all().unwrap();
        cache.clean(&["a tag with spaces"]).unwrap();
        assert_eq!(cache.stats().errors, 0);
    }
}
