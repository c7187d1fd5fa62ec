//! Keys from arbitrary user input (`key = ...`): spaces, newlines, `:`, `{`,
//! megabyte-long strings. They never collide, never break the protocol, and
//! over-long ones are stored under a fixed-length hashed key.

#![cfg(feature = "redis")]

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;

use cachetool::{cached, Backend, RedisBackend};
use support::redis::Setup;

static KEYS: LazyLock<Setup> = LazyLock::new(|| Setup::new("keys", |builder| builder));
static RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &KEYS.cache, name = "echo", key = text.clone(), tags = [text.clone()])]
fn echo(text: String) -> String {
    RUNS.fetch_add(1, SeqCst);
    text
}

fn inputs() -> Vec<String> {
    let mega = "m".repeat(1 << 20);
    vec![
        String::new(),
        " ".into(),
        "a b".into(),
        "a\nb".into(),
        "a\r\nb".into(),
        "*1\r\n$4\r\nPING\r\n".into(),
        "a:b".into(),
        "a::b".into(),
        ":".into(),
        "{a}".into(),
        "{a}b".into(),
        "a{b}".into(),
        "{".into(),
        "}".into(),
        "\0".into(),
        "ünï©ødé".into(),
        "x".repeat(RedisBackend::MAX_KEY_LEN),
        "x".repeat(RedisBackend::MAX_KEY_LEN + 1),
        mega.clone(),
        format!("{mega}n"),
        format!("n{mega}"),
        // Shaped like a hashed key: stored hashed too, so it can't land on one.
        format!("#xxh3-128:{}", "0".repeat(32)),
    ]
}

#[test]
fn arbitrary_keys_never_collide_and_long_ones_are_hashed() {
    let inputs = inputs();
    for text in &inputs {
        assert_eq!(&echo(text.clone()), text);
    }
    assert_eq!(
        RUNS.load(SeqCst),
        inputs.len(),
        "every input is its own entry"
    );
    for text in &inputs {
        assert_eq!(&echo(text.clone()), text, "and each is a hit");
    }
    assert_eq!(RUNS.load(SeqCst), inputs.len());
    assert_eq!(KEYS.cache.stats().errors, 0);

    let keys = KEYS.keys();
    let longest = keys.iter().map(Vec::len).max().unwrap();
    assert!(
        longest <= RedisBackend::MAX_KEY_LEN,
        "no key over the limit: {longest}"
    );
    let hashed: HashSet<&Vec<u8>> = keys
        .iter()
        .filter(|key| key.windows(11).any(|window| window == b":#xxh3-128:"))
        .collect();
    // Entry and tag keys of the 1 MB inputs and the one over the limit (the
    // prefixed keys of the input at the limit are over it too), and of the
    // hashed-looking input, are hashed; each distinct.
    assert!(hashed.len() >= 10, "{} hashed keys", hashed.len());
    for key in &hashed {
        assert!(key.len() < 200, "a hashed key has a fixed, short length");
    }

    // invalidate and clean reach the hashed keys too.
    let mega = "m".repeat(1 << 20);
    echo_invalidate(mega.clone()).unwrap();
    assert_eq!(echo(mega.clone()), mega);
    assert_eq!(RUNS.load(SeqCst), inputs.len() + 1);
    KEYS.cache.clean(&[format!("{mega}n")]).unwrap();
    assert_eq!(echo(format!("{mega}n")), format!("{mega}n"));
    assert_eq!(echo(mega.clone()), mega);
    assert_eq!(RUNS.load(SeqCst), inputs.len() + 2);
}

#[test]
fn a_key_equal_to_a_hashed_form_does_not_read_the_hashed_entry() {
    let setup = Setup::new("keys-forms", |builder| builder);
    let backend = &setup.backend;
    let long = format!("{}:{}", setup.cache.prefix(), "y".repeat(4096));
    backend.set(&long, b"long".to_vec().into(), None).unwrap();
    let stored = setup.keys();
    assert_eq!(stored.len(), 1);
    let hashed_form = String::from_utf8(stored[0].clone()).unwrap();
    assert!(hashed_form.starts_with(&format!("{}:#xxh3-128:", setup.cache.prefix())));
    // Someone uses the hashed form itself as a key: a different entry.
    assert!(backend.get_many(&[&hashed_form]).unwrap()[0].is_none());
    backend
        .set(&hashed_form, b"short".to_vec().into(), None)
        .unwrap();
    let values = backend.get_many(&[&long, &hashed_form]).unwrap();
    let values: Vec<_> = values
        .iter()
        .map(|value| {
            value
                .as_ref()
                .and_then(|v| v.as_bytes())
                .map(<[u8]>::to_vec)
        })
        .collect();
    assert_eq!(
        values,
        vec![Some(b"long".to_vec()), Some(b"short".to_vec())]
    );
    // Locks use the same mapping: taken once, released only with the token.
    let lock_key = format!("{long}-lock");
    let ttl = std::time::Duration::from_secs(5);
    let lock = || cachetool::LockRequest::new(&lock_key, 7, ttl);
    let other = cachetool::LockRequest::new(&lock_key, 8, ttl);
    assert!(
        backend
            .begin_load(Some(lock()), &[], &[], &hashed_form)
            .unwrap()
            .locked
    );
    assert!(
        !backend
            .begin_load(Some(other), &[], &[], &hashed_form)
            .unwrap()
            .locked
    );
    backend.unlock(&lock_key, 8).unwrap();
    assert!(
        !backend
            .begin_load(Some(other), &[], &[], &hashed_form)
            .unwrap()
            .locked
    );
    backend.unlock(&lock_key, 7).unwrap();
    assert!(
        backend
            .begin_load(Some(other), &[], &[], &hashed_form)
            .unwrap()
            .locked
    );
    backend.unlock(&lock_key, 8).unwrap();
    // Deletes too.
    backend.delete_many(&[&long]).unwrap();
    assert!(backend.get_many(&[&long]).unwrap()[0].is_none());
    assert_eq!(setup.keys().len(), 1);
}
