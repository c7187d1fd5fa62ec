//! The local tier's store: capacity, eviction, expiry, and readers and
//! writers at once. (Calls through it: `tests/` at the root.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::*;

fn key(n: u64) -> EntryKey {
    EntryKey::new(1, xxhash_rust::xxh3::xxh3_128(&n.to_le_bytes()))
}

fn stored(n: u64, ttl: Option<Duration>) -> StoredEntry {
    entry(Header::new(ttl, 0, &[], 0), n)
}

fn value(tier: &LocalTier, n: u64) -> Option<u64> {
    tier.value::<u64>(&key(n))
}

#[test]
fn a_million_distinct_keys_stay_within_capacity() {
    let capacity = 10_000;
    let tier = LocalTier::new(capacity);
    for n in 0..1_000_000 {
        tier.insert(key(n), stored(n, None));
        if n % 100_000 == 0 {
            assert!(tier.len() <= capacity, "{n}: {}", tier.len());
        }
    }
    assert!(tier.len() <= capacity, "{}", tier.len());
    assert!(tier.len() >= capacity * 9 / 10, "{}", tier.len());
    // What is kept is what was stored under its key.
    let kept = (0..1_000_000)
        .filter(|&n| value(&tier, n) == Some(n))
        .count();
    assert_eq!(kept, tier.len());
}

#[test]
fn capacity_is_an_exact_bound_whatever_the_shards() {
    for capacity in [1, 2, 10, 255, 1002, 16_447] {
        let tier = LocalTier::new(capacity);
        for n in 0..capacity as u64 * 4 + 10 {
            tier.insert(key(n), stored(n, None));
        }
        assert!(tier.len() <= capacity, "{capacity}: {}", tier.len());
        assert!(tier.len() > 0);
    }
}

#[test]
fn keys_used_again_outlive_a_stream_of_keys_used_once() {
    let tier = LocalTier::new(1_000);
    for n in 0..500 {
        tier.insert(key(n), stored(n, None));
    }
    for _ in 0..3 {
        for n in 0..500 {
            assert_eq!(value(&tier, n), Some(n));
        }
    }
    // Ten times the capacity of keys used once, the hot keys read meanwhile.
    for n in 1_000..11_000 {
        tier.insert(key(n), stored(n, None));
        if n % 10 == 0 {
            value(&tier, n % 500);
        }
    }
    let hot_kept = (0..500).filter(|&n| value(&tier, n) == Some(n)).count();
    assert!(hot_kept >= 450, "only {hot_kept} of 500 hot keys kept");
}

#[test]
fn an_expired_entry_is_never_returned_and_is_dropped() {
    let tier = LocalTier::new(100);
    tier.insert(key(1), stored(1, Some(Duration::ZERO)));
    tier.insert(key(2), stored(2, Some(Duration::from_secs(3600))));
    tier.insert(key(3), stored(3, None));
    assert_eq!(value(&tier, 1), None);
    assert!(tier.peek_fresh(&key(1), |_| Some(())).is_none());
    assert!(
        tier.peek_expired_too(&key(1), |_| ()).is_none(),
        "dropped when read"
    );
    assert_eq!(value(&tier, 2), Some(2));
    assert_eq!(value(&tier, 3), Some(3));
    assert_eq!(tier.len(), 2);
}

#[test]
fn a_stale_entry_kept_past_its_ttl_is_not_returned_and_not_dropped() {
    let tier = LocalTier::new(100);
    let header =
        Header::new(Some(Duration::ZERO), 0, &[], 0).kept_for(Some(Duration::from_secs(3600)));
    tier.insert(key(1), entry(header, 1u64));
    assert_eq!(value(&tier, 1), None, "stale: no plain hit");
    assert!(tier.peek_fresh(&key(1), |_| Some(())).is_none());
    assert_eq!(
        tier.peek_expired_too(&key(1), |entry| entry.value::<u64>().copied()),
        Some(Some(1)),
        "kept: still there for the reads that want an expired value"
    );
    assert_eq!(tier.len(), 1);
}

#[test]
fn a_removed_entry_is_gone_and_a_new_one_replaces_an_old() {
    let tier = LocalTier::new(100);
    tier.insert(key(1), stored(1, None));
    tier.insert(key(1), stored(10, None));
    assert_eq!(value(&tier, 1), Some(10));
    tier.remove(&key(1));
    assert!(tier.peek_expired_too(&key(1), |_| ()).is_none());
}

#[test]
fn namespaces_are_shared_by_prefix() {
    let tier = LocalTier::new(100);
    let a = tier.namespace("a");
    assert!(Arc::ptr_eq(&a, &tier.namespace("a")));
    assert!(!Arc::ptr_eq(&a, &tier.namespace("b")));
}

#[test]
fn readers_and_writers_at_once_only_ever_see_what_was_stored() {
    // Writers store `n * 1000 + round` under key n, readers check that
    // whatever they find under key n is one of n's values. Bounded by count.
    let tier = LocalTier::new(2_000);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..2)
            .map(|writer| {
                let tier = &tier;
                scope.spawn(move || {
                    for round in 0..200u64 {
                        for n in 0..1_000u64 {
                            let value = n * 1_000_000 + round * 10 + writer;
                            tier.insert(key(n), stored(value, None));
                        }
                        if round % 20 == 0 {
                            for n in (0..1_000).step_by(7) {
                                tier.remove(&key(n));
                            }
                        }
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (tier, stop) = (&tier, &stop);
                scope.spawn(move || {
                    let mut seen = 0u64;
                    for _ in 0..1_000 {
                        for n in 0..1_000u64 {
                            if let Some(found) = value(tier, n) {
                                assert_eq!(found / 1_000_000, n, "key {n} held {found}");
                                seen += 1;
                            }
                        }
                        if stop.load(Ordering::Acquire) {
                            break;
                        }
                    }
                    seen
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        stop.store(true, Ordering::Release);
        let seen: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert!(seen > 0, "the readers found nothing at all");
    });
    assert!(tier.len() <= 2_000);
}

/// A value whose `Drop` reads the tier it was kept in.
struct ReadsOnDrop {
    tier: Arc<LocalTier>,
    drops: Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for ReadsOnDrop {
    fn drop(&mut self) {
        let _ = self.tier.value::<u64>(&key(0));
        let _ = self.tier.len();
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_value_is_dropped_after_the_lock_is_released() {
    // Replaced, evicted, removed or cleared, a value's `Drop` runs with no
    // lock of the tier held: one that reads the tier does not deadlock.
    // Each case runs on a thread of its own, so that a deadlock fails the
    // test at the bound rather than hang it.
    let tier = Arc::new(LocalTier::new(1));
    let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let value = || {
        let value = ReadsOnDrop {
            tier: Arc::clone(&tier),
            drops: Arc::clone(&drops),
        };
        entry(Header::new(None, 0, &[], 0), value)
    };
    let (a, b, c, d) = (value(), value(), value(), value());
    type Case = Box<dyn FnOnce(&LocalTier) + Send>;
    let cases: [(&str, Case); 4] = [
        (
            "replaced",
            Box::new(move |tier| {
                tier.insert(key(1), a);
                tier.insert(key(1), b);
            }),
        ),
        // A second key in a tier of one entry: one of the two goes.
        ("evicted", Box::new(move |tier| tier.insert(key(2), c))),
        (
            "removed",
            Box::new(|tier| {
                tier.remove(&key(1));
                tier.remove(&key(2));
            }),
        ),
        (
            "cleared",
            Box::new(move |tier| {
                tier.insert(key(3), d);
                tier.clear();
            }),
        ),
    ];
    for (case, run) in cases {
        let before = drops.load(Ordering::SeqCst);
        let (done, finished) = std::sync::mpsc::channel();
        let shared = Arc::clone(&tier);
        std::thread::spawn(move || {
            run(&shared);
            let _ = done.send(());
        });
        finished
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{case}: not done in 30 s: a Drop deadlocked on the tier"));
        assert_eq!(
            drops.load(Ordering::SeqCst) - before,
            1,
            "{case}: one value dropped"
        );
    }
    assert_eq!(tier.len(), 0);
}
