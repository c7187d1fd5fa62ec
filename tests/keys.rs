//! Keys from arbitrary user input (`key = ...`): spaces, newlines, protocol
//! text, `:`, `{`, control characters, non-ASCII, megabyte-long strings. They
//! never collide, never break the protocol, and a key the server could not
//! take as it is (over Redis's 1024 bytes; over memcached's 250, or with a
//! space, a control character...) is stored under a fixed-length hashed form,
//! which no other key can reach. Written once, run on each remote backend;
//! what Memcached alone needs checked (every method, odd prefixes) is in
//! `memcached_keys.rs`.

#![cfg(any(feature = "redis", feature = "memcached"))]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;

use cachetool::{cached, Backend, LockRequest, Value};
use support::remote::{RemoteBackend, Setup};

/// What each backend promises about the keys it sends.
trait KeyForms: RemoteBackend {
    /// What `echo` returns for `text`: on Memcached, whose values are limited
    /// to an item's size, its length and first characters (this test is
    /// about keys); on Redis, the text itself.
    fn echoed(text: &str) -> String;

    /// A key stored under its hashed form.
    fn hashed(prefix: &str) -> String;

    /// Whether `key`, held by the server for the cache of `prefix`, is a hashed form.
    fn is_hashed(prefix: &str, key: &[u8]) -> bool;

    /// Checks the keys the server holds, `ours`, once every input (and
    /// nothing else) was stored with its tag.
    fn check_stored(setup: &Setup<Self>, inputs: &[String], ours: &[Vec<u8>]);
}

#[cfg(feature = "redis")]
impl KeyForms for cachetool::RedisBackend {
    fn echoed(text: &str) -> String {
        text.to_owned()
    }

    fn hashed(prefix: &str) -> String {
        format!("{prefix}:{}", "y".repeat(4096))
    }

    fn is_hashed(prefix: &str, key: &[u8]) -> bool {
        key.starts_with(format!("{prefix}:#xxh3-128:").as_bytes())
    }

    fn check_stored(setup: &Setup<Self>, _: &[String], ours: &[Vec<u8>]) {
        let is_hashed = |key: &&Vec<u8>| Self::is_hashed(setup.cache.prefix(), key);
        let hashed = ours.iter().filter(is_hashed).count();
        // Entry and tag keys of the 1 MB inputs and the one over the limit
        // (the prefixed keys of the input at the limit are over it too), and
        // of the hashed-looking input, are hashed.
        assert!(hashed >= 10, "{hashed} hashed keys");
        for key in ours.iter().filter(is_hashed) {
            assert!(key.len() < 200, "a hashed key has a fixed, short length");
        }
    }
}

#[cfg(feature = "memcached")]
impl KeyForms for cachetool::MemcachedBackend {
    fn echoed(text: &str) -> String {
        format!(
            "{} {}",
            text.len(),
            text.chars().take(16).collect::<String>()
        )
    }

    fn hashed(prefix: &str) -> String {
        format!("{prefix}:entry:f:a b")
    }

    fn is_hashed(_: &str, key: &[u8]) -> bool {
        key.contains(&b'~')
    }

    fn check_stored(setup: &Setup<Self>, inputs: &[String], ours: &[Vec<u8>]) {
        assert_eq!(setup.backend.oversized(), 0);
        // At most an entry and a tag per input, and the epoch (no lock left
        // behind); the crawler behind `metadump` may skip an item that is
        // busy at that moment.
        assert!(ours.len() <= 2 * inputs.len() + 1, "{}", ours.len());
        assert!(ours.len() >= 2 * inputs.len() - 4, "{}", ours.len());
        for key in ours {
            assert!(
                key.iter().all(|byte| (0x21..=0x7e).contains(byte)),
                "{key:?}"
            );
        }
        // Readable keys are kept as they are.
        let prefix = setup.cache.prefix();
        let values = setup
            .backend
            .get_many(&[
                &format!("{prefix}:entry:echo:a_b"),
                &format!("{prefix}:tag:{}", "x".repeat(200)),
            ])
            .unwrap();
        assert!(values.iter().all(Option::is_some));
        let raw = setup.client().get(&format!("{prefix}:tag:a_b"));
        assert!(raw.is_some(), "a plain key is stored under itself");
        let hashed = ours
            .iter()
            .filter(|key| Self::is_hashed(prefix, key))
            .count();
        assert!(hashed >= 30, "{hashed} hashed keys");
    }
}

/// Inputs that are awkward for one protocol or the other, and lengths around
/// `limit` (the longest key stored as it is) and far over it.
fn inputs(limit: usize) -> Vec<String> {
    let mega = "m".repeat(1 << 20);
    vec![
        String::new(),
        " ".into(),
        "a b".into(),
        "a_b".into(),
        "a\nb".into(),
        "a\r\nb".into(),
        "*1\r\n$4\r\nPING\r\n".into(),
        "x\r\nget y\r\n".into(),
        "VALUE k 0 1 1\r\n".into(),
        "a:b".into(),
        "a::b".into(),
        ":".into(),
        "{a}".into(),
        "{a}b".into(),
        "a{b}".into(),
        "{".into(),
        "}".into(),
        "\0".into(),
        "\t".into(),
        "\x7f".into(),
        "ünï©ødé".into(),
        "<a.B as c.D>.get".into(),
        "t~lde".into(),
        format!("a_b~{}", "0".repeat(32)),
        // Shaped like a Redis hashed key: stored hashed too, so it can't land on one.
        format!("#xxh3-128:{}", "0".repeat(32)),
        "x".repeat(200),
        "x".repeat(limit),
        "x".repeat(limit + 1),
        mega.clone(),
        format!("{mega}n"),
        format!("n{mega}"),
    ]
}

support::for_each_remote_backend! {
    static KEYS: LazyLock<Setup<Remote>> = LazyLock::new(|| Setup::new("keys", |builder| builder));
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    /// The key can be a megabyte; the value is what `echoed` says.
    #[cached(cache = &KEYS.cache, name = "echo", key = text.clone(), tags = [text.clone()])]
    fn echo(text: String) -> String {
        RUNS.fetch_add(1, SeqCst);
        Remote::echoed(&text)
    }

    #[test]
    fn arbitrary_keys_never_collide_and_long_ones_are_hashed() {
        let inputs = inputs(Remote::MAX_KEY_LEN);
        for text in &inputs {
            assert_eq!(echo(text.clone()), Remote::echoed(text));
        }
        assert_eq!(RUNS.load(SeqCst), inputs.len(), "every input is its own entry");
        for text in &inputs {
            assert_eq!(echo(text.clone()), Remote::echoed(text), "and each is a hit");
        }
        assert_eq!(RUNS.load(SeqCst), inputs.len());
        assert_eq!(KEYS.cache.stats().errors, 0);

        let ours = KEYS.keys();
        let longest = ours.iter().map(Vec::len).max().unwrap();
        assert!(longest <= Remote::MAX_KEY_LEN, "no key over the limit: {longest}");
        Remote::check_stored(&KEYS, &inputs, &ours);

        // invalidate and clean reach the hashed keys too.
        let mega = "m".repeat(1 << 20);
        echo_invalidate(mega.clone()).unwrap();
        assert_eq!(echo(mega.clone()), Remote::echoed(&mega));
        assert_eq!(RUNS.load(SeqCst), inputs.len() + 1);
        KEYS.cache.clean(&[format!("{mega}n")]).unwrap();
        assert_eq!(echo(format!("{mega}n")), Remote::echoed(&format!("{mega}n")));
        assert_eq!(echo(mega.clone()), Remote::echoed(&mega));
        assert_eq!(RUNS.load(SeqCst), inputs.len() + 2);
    }

    #[test]
    fn a_key_equal_to_a_hashed_form_does_not_read_the_hashed_entry() {
        let setup = Setup::<Remote>::new("keys-forms", |builder| builder);
        let backend = &setup.backend;
        let long = Remote::hashed(setup.cache.prefix());
        backend.set(&long, b"long".to_vec().into(), None).unwrap();
        // Listed again if the listing missed it (memcached's metadump may skip
        // an item it finds busy), a bounded number of times.
        let stored = (0..20)
            .map(|_| setup.keys())
            .find(|keys| keys.len() == 1)
            .unwrap_or_else(|| setup.keys());
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert!(Remote::is_hashed(setup.cache.prefix(), &stored[0]), "{stored:?}");
        assert!(stored[0].len() <= Remote::MAX_KEY_LEN, "{stored:?}");
        let hashed_form = String::from_utf8(stored[0].clone()).unwrap();
        // Someone uses the hashed form itself as a key: a different entry.
        assert!(backend.get_many(&[&hashed_form]).unwrap()[0].is_none());
        backend
            .set(&hashed_form, b"short".to_vec().into(), None)
            .unwrap();
        let values = backend.get_many(&[&long, &hashed_form]).unwrap();
        let values: Vec<Option<&[u8]>> = values
            .iter()
            .map(|value| value.as_ref().and_then(Value::as_bytes))
            .collect();
        assert_eq!(values, [Some(&b"long"[..]), Some(&b"short"[..])]);
        // Locks use the same mapping: taken once, released only with the token.
        let lock_key = format!("{long}-lock");
        let ttl = std::time::Duration::from_secs(5);
        let lock = || LockRequest::new(&lock_key, 7, ttl);
        let other = LockRequest::new(&lock_key, 8, ttl);
        let locked = |lock| backend.begin_load(Some(lock), &[], &[], &hashed_form).unwrap().locked;
        assert!(locked(lock()));
        assert!(!locked(other));
        backend.unlock(&lock_key, 8).unwrap();
        assert!(!locked(other));
        backend.unlock(&lock_key, 7).unwrap();
        assert!(locked(other));
        backend.unlock(&lock_key, 8).unwrap();
        // Deletes too: the long key's entry goes, the hashed form's stays.
        // (Read back, not listed: memcached's `lru_crawler metadump` may skip
        // an item it finds busy, so a listing can miss a key that is there.)
        backend.delete_many(&[&long]).unwrap();
        let values = backend.get_many(&[&long, &hashed_form]).unwrap();
        let values: Vec<Option<&[u8]>> = values
            .iter()
            .map(|value| value.as_ref().and_then(Value::as_bytes))
            .collect();
        assert_eq!(values, [None, Some(&b"short"[..])]);
    }
}
