//! The envelope records until when its value is fresh (format 2); an entry
//! of format 1, written before that field, is a miss and is overwritten.

#![cfg(any(feature = "redis", feature = "memcached"))]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cachetool::admin::{self, Envelope};
use cachetool::{cached, Value};

/// The same entry as format 1 wrote it: the header without "fresh until"
/// (bytes 28..36 of format 2), the rest unchanged.
fn as_format_one(bytes: &[u8]) -> Vec<u8> {
    let mut old = Vec::with_capacity(bytes.len() - 8);
    old.extend_from_slice(&bytes[..28]);
    old.extend_from_slice(&bytes[36..]);
    old[2] = 1;
    old
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

support::modes::for_each_remote_mode! {
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("envelope"), name = "format.read", ttl = 600)]
    fn read(n: u64) -> u64 {
        RUNS.fetch_add(1, SeqCst);
        n
    }

    #[test]
    fn an_entry_records_until_when_it_is_fresh_and_an_old_format_is_a_miss() {
        let before = now_ms();
        assert_eq!(call!(read(1)), 1);
        let after = now_ms();
        let cache = cache("envelope");
        let key = admin::entry_key(cache.prefix(), "format.read", &[1u64]).unwrap();
        let stored = admin::inspect(cache, &key).unwrap().expect("stored");
        let envelope = Envelope::parse(&stored.bytes).expect("an envelope of this format");
        let ttl_ms = 600_000;
        assert!(
            (before + ttl_ms..=after + ttl_ms).contains(&envelope.fresh_until_unix_ms),
            "fresh until {} for a store between {before} and {after}",
            envelope.fresh_until_unix_ms
        );
        // Nothing wants it kept expired: the server expires it when it stops being fresh.
        let server_ttl = stored.ttl.expect("it expires");
        assert!(server_ttl <= Duration::from_secs(600), "{server_ttl:?}");

        assert_eq!(call!(read(1)), 1);
        assert_eq!(RUNS.load(SeqCst), 1, "a hit while fresh");
        let old = as_format_one(&stored.bytes);
        assert!(Envelope::parse(&old).is_none(), "format 1 is not read");
        cache.backend().set(&key, Value::from(old), None).unwrap();
        assert_eq!(call!(read(1)), 1);
        assert_eq!(RUNS.load(SeqCst), 2, "the old format is a miss");
        let rewritten = admin::inspect(cache, &key).unwrap().expect("stored");
        assert!(Envelope::parse(&rewritten.bytes).is_some(), "and is overwritten");
        assert_eq!(call!(read(1)), 1);
        assert_eq!(RUNS.load(SeqCst), 2);
    }
}
