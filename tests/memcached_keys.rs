//! Keys Memcached would refuse (over 250 bytes, spaces, newlines, control
//! characters, non-ASCII) from prefixes, function paths and `key = ...`: every
//! key sent is valid, none collides with another, and readable keys are kept.

#![cfg(feature = "memcached")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;

use cachetool::{cached, Backend, Value};
use cachetool_test_harness::memcached::request;
use support::memcached::Setup;

static KEYS: LazyLock<Setup> = LazyLock::new(|| Setup::new("mc-keys", 1, &[], |builder| builder));
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// The key can be a megabyte; the value stays small (values have limits of their own).
#[cached(cache = &KEYS.cache, name = "echo", key = text.clone(), tags = [text.clone()])]
fn echo(text: String) -> (usize, String) {
    RUNS.fetch_add(1, SeqCst);
    (text.len(), text.chars().take(16).collect())
}

fn expected(text: &str) -> (usize, String) {
    (text.len(), text.chars().take(16).collect())
}

/// Every key the server holds (from `lru_crawler metadump`, URL-encoded by the server).
fn server_keys(setup: &Setup) -> Vec<String> {
    let dump = request(
        &setup.addresses()[0],
        b"lru_crawler metadump all\r\n",
        &[b"END\r\n"],
    );
    String::from_utf8(dump)
        .unwrap()
        .lines()
        .filter_map(|line| {
            line.strip_prefix("key=")?
                .split(' ')
                .next()
                .map(percent_decoded)
        })
        .collect()
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' && at + 2 < bytes.len() + 1 {
            out.push(u8::from_str_radix(&text[at + 1..at + 3], 16).expect("%XX"));
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).expect("keys we send are ASCII")
}

fn inputs() -> Vec<String> {
    let mega = "m".repeat(1 << 20);
    vec![
        String::new(),
        " ".into(),
        "a b".into(),
        "a_b".into(),
        "a\nb".into(),
        "a\r\nb".into(),
        "x\r\nget y\r\n".into(),
        "VALUE k 0 1 1\r\n".into(),
        "\0".into(),
        "\t".into(),
        "\x7f".into(),
        "ünï©ødé".into(),
        "<a.B as c.D>.get".into(),
        "t~lde".into(),
        format!("a_b~{}", "0".repeat(32)),
        "x".repeat(200),
        "x".repeat(250),
        "x".repeat(251),
        mega.clone(),
        format!("{mega}n"),
        format!("n{mega}"),
    ]
}

#[test]
fn arbitrary_key_parts_are_stored_hit_and_never_collide() {
    let inputs = inputs();
    for text in &inputs {
        assert_eq!(echo(text.clone()), expected(text));
    }
    assert_eq!(
        RUNS.load(SeqCst),
        inputs.len(),
        "every input is its own entry"
    );
    for text in &inputs {
        assert_eq!(echo(text.clone()), expected(text), "and each is a hit");
    }
    assert_eq!(RUNS.load(SeqCst), inputs.len());
    assert_eq!(KEYS.cache.stats().errors, 0);
    assert_eq!(KEYS.backend.oversized(), 0);

    let prefix = KEYS.cache.prefix().to_owned();
    let keys = server_keys(&KEYS);
    let ours: Vec<&String> = keys.iter().filter(|key| key.starts_with(&prefix)).collect();
    // At most an entry and a tag per input, and the epoch (no lock left behind);
    // the crawler behind `metadump` may skip an item that is busy at that moment.
    assert!(ours.len() <= 2 * inputs.len() + 1, "{ours:#?}");
    assert!(ours.len() >= 2 * inputs.len() - 4, "{ours:#?}");
    for key in &ours {
        assert!(key.len() <= 250, "{key}");
        assert!(
            key.bytes().all(|byte| (0x21..=0x7e).contains(&byte)),
            "{key:?}"
        );
    }
    // Readable keys are kept as they are.
    let values = KEYS
        .backend
        .get_many(&[
            &format!("{prefix}:entry:echo:a_b"),
            &format!("{prefix}:tag:{}", "x".repeat(200)),
        ])
        .unwrap();
    assert!(values.iter().all(Option::is_some));
    let raw = cachetool_test_harness::memcached::raw_get(
        &KEYS.addresses()[0],
        &format!("{prefix}:tag:a_b"),
    );
    assert!(raw.is_some(), "a plain key is stored under itself");
    let hashed = ours.iter().filter(|key| key.contains('~')).count();
    assert!(hashed >= 30, "{hashed} hashed keys");
}

#[test]
fn a_hashed_key_never_equals_another_key_even_one_shaped_like_it() {
    let setup = Setup::new("mc-keys-shaped", 1, &[], |builder| builder);
    let backend = &setup.backend;
    let spaced = format!("{}:entry:f:a b", setup.cache.prefix());
    backend
        .set(&spaced, b"spaced".to_vec().into(), None)
        .unwrap();
    let wire = server_keys(&setup)
        .into_iter()
        .find(|key| key.starts_with(setup.cache.prefix()))
        .expect("the stored key");
    assert!(wire.contains('~') && wire.len() <= 250, "{wire}");
    // The exact wire key, used as a key of its own, is hashed again: both stay.
    backend.set(&wire, b"shaped".to_vec().into(), None).unwrap();
    let values = backend.get_many(&[&spaced, &wire]).unwrap();
    let bytes: Vec<Option<&[u8]>> = values
        .iter()
        .map(|value| value.as_ref().and_then(Value::as_bytes))
        .collect();
    assert_eq!(bytes, [Some(&b"spaced"[..]), Some(&b"shaped"[..])]);
}

#[test]
fn every_backend_method_takes_hostile_keys() {
    let setup = Setup::new("mc-keys-methods", 1, &[], |builder| builder);
    let backend = &setup.backend;
    let prefix = setup.cache.prefix();
    let long = "k".repeat(10_000);
    let entry = format!("{prefix}:entry:<a.B<u8> as c.D>.get:{long} \r\n\0");
    let tag = format!("{prefix}:tag:user name\n7");
    let lock = format!("{prefix}:lock:<a.B<u8> as c.D>.get:{long} \r\n\0");
    let epoch = format!("{prefix}:epoch");

    let start = backend
        .begin_load(
            Some(cachetool::LockRequest {
                key: &lock,
                token: 7,
                ttl: std::time::Duration::from_secs(30),
            }),
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
        let setup = Setup::new("mc-keys-prefix", 1, &[], |builder| builder);
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
