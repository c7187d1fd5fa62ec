//! One shard of the memory backend: keys with their slots, a capacity bound
//! and the eviction policy, W-TinyLFU (as Caffeine's and moka's).
//!
//! A new key enters a small admission window, an LRU of 1% of the shard (at
//! least 3 keys, see `MIN_WINDOW`). The rest, the main space, is a segmented
//! LRU: probation (about 20%) and protected (about 80%). When the window
//! overflows and the shard is full, the window's least recently used key is a
//! candidate for main: it takes the place of probation's least recently used
//! key only if a frequency sketch says it was used more often lately;
//! otherwise it is dropped. A key
//! read again in probation moves to protected. So one-off keys pass through
//! the window without pushing out keys that are used again and again, which a
//! plain LRU would evict after any burst of new keys.

use std::time::{Duration, Instant};

use xxhash_rust::xxh3::xxh3_64;

use super::segment::{Segment, StoredKey};
use super::sketch::FrequencySketch;
use crate::backend::Value;

/// Keys with their slots, at most `capacity` of them, and the eviction policy.
pub(super) struct Shard {
    /// New keys, before admission to main; at most `window_capacity` of them.
    window: Segment,
    /// Main keys used once since they entered main: the first to be evicted.
    probation: Segment,
    /// Main keys used again in main; at most `protected_capacity` of them.
    protected: Segment,
    /// How often each key was used lately: the admission test.
    sketch: FrequencySketch,
    capacity: usize,
    window_capacity: usize,
    protected_capacity: usize,
}

/// A key with its xxh3-64 hash: the shard index, the maps and the sketch all
/// derive from this one hash.
#[derive(Clone, Copy)]
pub(super) struct Hashed<'a> {
    pub(super) key: &'a str,
    pub(super) hash: u64,
}

impl Hashed<'_> {
    pub(super) fn new(key: &str) -> Hashed<'_> {
        Hashed {
            key,
            hash: xxh3_64(key.as_bytes()),
        }
    }
}

/// A value with its expiry.
pub(super) struct Slot {
    pub(super) value: Value,
    expires_at: Option<Instant>,
}

impl Slot {
    pub(super) fn new(value: Value, ttl: Option<Duration>) -> Slot {
        Slot {
            value,
            // A TTL past what the clock can hold is no expiry.
            expires_at: ttl.and_then(|ttl| crate::durations::expiry_after(Instant::now(), ttl)),
        }
    }

    pub(super) fn is_live(&self) -> bool {
        self.expires_at.is_none_or(|at| Instant::now() < at)
    }

    /// Whether it was stored without a TTL.
    pub(super) fn never_expires(&self) -> bool {
        self.expires_at.is_none()
    }
}

/// The fewest keys the window holds (but at most half a tiny shard).
///
/// A key enters the window counted once, and when it leaves the window it is
/// compared with main's victim: a key created in a full shard (a new tag's
/// version, say) that is read on every call must be read again before it
/// leaves, or it is dropped in favour of any key used as often. A window of
/// one key, 1% of a shard of ~157 (64 shards of a 10,000-key cache), pushes it
/// out at the next new key of its shard, which may be the entry created in the
/// same call. With three, it takes three new keys of its shard before the next
/// read: ~190 new keys over 64 shards, more than Caffeine's and moka's window
/// of 1% of the whole cache (100 keys) gives. Hit ratio on Zipf is unchanged.
const MIN_WINDOW: usize = 3;

/// How many keys a new shard's frequency sketch is sized for; it doubles as
/// the shard fills, up to the shard's capacity.
const FIRST_SKETCH_SIZE: usize = 256;

impl Shard {
    /// An empty shard that holds at most `capacity` keys.
    pub(super) fn new(capacity: usize) -> Shard {
        let window_capacity = (capacity / 100).max(MIN_WINDOW).min(capacity.div_ceil(2));
        let main_capacity = capacity - window_capacity;
        Shard {
            window: Segment::new(),
            probation: Segment::new(),
            protected: Segment::new(),
            // Sized for the keys held, growing with them: sized for the capacity
            // at once, `capacity(usize::MAX)` would allocate gigabytes.
            sketch: FrequencySketch::new(capacity.min(FIRST_SKETCH_SIZE)),
            capacity,
            window_capacity,
            // At least one, so that a key read again in a tiny main is promoted
            // and stays there rather than going back to probation at once.
            protected_capacity: ((main_capacity as u128 * 4 / 5) as usize).max(1),
        }
    }

    /// How many keys it holds, expired ones not yet dropped included.
    pub(super) fn len(&self) -> usize {
        self.window.len() + self.probation.len() + self.protected.len()
    }

    /// The live value of `key`, counted as a use; an expired slot is dropped.
    pub(super) fn get(&mut self, key: Hashed<'_>) -> Option<&Value> {
        // Most hits are in protected: a look there first, then one more (on the
        // same, now cached, bucket) to act on it. Acting on it at once would
        // be one probe, but a reference returned from a segment on one path
        // keeps it borrowed on all paths, and probation's promotion below writes
        // to protected.
        if self.protected.peek(key).is_none() {
            if let Some(mut found) = self.window.find(key) {
                if !found.get().is_live() {
                    found.remove();
                    return None;
                }
                self.sketch.increment(key.hash);
                found.to_back();
                return Some(&found.into_mut().value);
            }
            let found = self.probation.find(key)?;
            if !found.get().is_live() {
                found.remove();
                return None;
            }
            // Promoted to protected; protected's least recently used key goes
            // back to probation if protected is over its share.
            let (stored, slot) = found.remove_entry();
            self.protected.push_back(stored, slot);
            if self.protected.len() > self.protected_capacity {
                if let Some((demoted, slot)) = self.protected.pop_front() {
                    self.probation.push_back(demoted, slot);
                }
            }
        }
        let mut found = self.protected.find(key)?;
        if !found.get().is_live() {
            found.remove();
            return None;
        }
        self.sketch.increment(key.hash);
        found.to_back();
        Some(&found.into_mut().value)
    }

    /// The slot of `key` as it is, live or not, uncounted and unmoved.
    pub(super) fn peek(&self, key: Hashed<'_>) -> Option<&Slot> {
        self.protected
            .peek(key)
            .or_else(|| self.probation.peek(key))
            .or_else(|| self.window.peek(key))
    }

    /// Stores `slot` under `key`, counted as a use. A key already held keeps
    /// its place (as the most recently used of its segment); a new key enters
    /// the window, and the shard then evicts to stay within its capacity.
    pub(super) fn insert(&mut self, key: Hashed<'_>, slot: Slot) {
        self.sketch.increment(key.hash);
        for segment in [&mut self.window, &mut self.probation, &mut self.protected] {
            if let Some(mut found) = segment.find(key) {
                *found.get_mut() = slot;
                found.to_back();
                return;
            }
        }
        self.window.push_back(StoredKey::new(key), slot);
        let sized_for = self.sketch.sized_for();
        if self.len() > sized_for && sized_for < self.capacity {
            // Counts start again: a few times while a shard fills, never after.
            self.sketch = FrequencySketch::new(sized_for.saturating_mul(2).min(self.capacity));
        }
        if self.window.len() > self.window_capacity {
            if let Some((candidate, slot)) = self.window.pop_front() {
                self.admit(candidate, slot);
            }
        }
    }

    pub(super) fn remove(&mut self, key: Hashed<'_>) {
        for segment in [&mut self.window, &mut self.probation, &mut self.protected] {
            if let Some(found) = segment.find(key) {
                found.remove();
                return;
            }
        }
    }

    /// The window's least recently used key, pushed out of the window: into
    /// main if main has room, else in place of main's victim if the sketch says
    /// the candidate was used more often lately (or the victim has expired),
    /// else dropped. An expired candidate is dropped.
    fn admit(&mut self, candidate: StoredKey, slot: Slot) {
        if !slot.is_live() {
            return;
        }
        let main_capacity = self.capacity - self.window_capacity;
        if self.probation.len() + self.protected.len() < main_capacity {
            self.probation.push_back(candidate, slot);
            return;
        }
        // Probation is empty only in a main of one key, which protected then holds.
        let victims = if self.probation.len() > 0 {
            &mut self.probation
        } else {
            &mut self.protected
        };
        let Some((victim, victim_slot)) = victims.front() else {
            return; // No main at all (a capacity of 1): the window is the shard.
        };
        // An expired key (a lock whose holder never released it, an entry past its
        // TTL) is worth nothing, however often it was read.
        let admitted = !victim_slot.is_live()
        // A tie goes to the incumbent, as in Caffeine: on the Zipf workload of the
        // peer bench, ties to the candidate cost 0.45 points of hit ratio (one-off
        // keys then churn through probation). A brand-new key that is read on every
        // call is protected by the window instead (see `MIN_WINDOW`).
            || self.sketch.frequency(candidate.hash()) > self.sketch.frequency(victim.hash());
        if admitted {
            victims.pop_front();
            self.probation.push_back(candidate, slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bytes::Bytes;

    use super::*;

    /// Where a key is: "window", "probation", "protected", or `None`.
    fn segment_of(shard: &Shard, key: &str) -> Option<&'static str> {
        let key = Hashed::new(key);
        [
            ("window", &shard.window),
            ("probation", &shard.probation),
            ("protected", &shard.protected),
        ]
        .into_iter()
        .find(|(_, segment)| segment.peek(key).is_some())
        .map(|(name, _)| name)
    }

    fn slot(text: &str) -> Slot {
        Slot::new(Value::Bytes(Bytes::copy_from_slice(text.as_bytes())), None)
    }

    fn put(shard: &mut Shard, key: &str) {
        shard.insert(Hashed::new(key), slot(key));
    }

    fn read(shard: &mut Shard, key: &str) -> Option<String> {
        shard
            .get(Hashed::new(key))
            .map(|value| String::from_utf8(value.as_bytes().unwrap().to_vec()).unwrap())
    }

    /// A shard of 10 (window 3, probation 2 and protected 5 at most), with "w"
    /// in the window, "p" in probation and "q" in protected.
    fn one_key_per_segment() -> Shard {
        let mut shard = Shard::new(10);
        for key in ["p", "q", "w1", "w2", "w"] {
            put(&mut shard, key);
        }
        read(&mut shard, "q");
        assert_eq!(segment_of(&shard, "w"), Some("window"));
        assert_eq!(segment_of(&shard, "p"), Some("probation"));
        assert_eq!(segment_of(&shard, "q"), Some("protected"));
        shard
    }

    #[test]
    fn capacity_is_never_exceeded_under_random_operations() {
        for capacity in [0, 1, 2, 3, 4, 5, 8, 40, 157] {
            let mut rng = fastrand::Rng::with_seed(capacity as u64);
            let mut shard = Shard::new(capacity);
            // The value last stored under each key: a key still held has it.
            let mut stored: HashMap<String, String> = HashMap::new();
            let mut most = 0;
            for step in 0..20_000 {
                let key = format!("k{}", rng.usize(..capacity * 3 + 3));
                match rng.u8(..10) {
                    0..5 => {
                        let value = format!("{key}@{step}");
                        shard.insert(Hashed::new(&key), slot(&value));
                        stored.insert(key.clone(), value);
                        if capacity > 0 {
                            assert!(segment_of(&shard, &key).is_some(), "a new key enters");
                        }
                    }
                    5..9 => {
                        if let Some(value) = read(&mut shard, &key) {
                            assert_eq!(Some(&value), stored.get(&key));
                        }
                    }
                    _ => {
                        shard.remove(Hashed::new(&key));
                        assert_eq!(segment_of(&shard, &key), None);
                    }
                }
                assert!(shard.len() <= capacity, "{} > {capacity}", shard.len());
                most = most.max(shard.len());
                assert!(shard.window.len() <= shard.window_capacity);
                assert!(shard.protected.len() <= shard.protected_capacity);
            }
            assert_eq!(most, capacity, "a busy shard fills up");
        }
    }

    #[test]
    fn a_shard_of_one_holds_the_newest_key() {
        let mut shard = Shard::new(1);
        put(&mut shard, "a");
        read(&mut shard, "a");
        put(&mut shard, "b");
        assert_eq!(shard.len(), 1);
        assert_eq!(read(&mut shard, "b").as_deref(), Some("b"));
        assert_eq!(read(&mut shard, "a"), None);
    }

    #[test]
    fn keys_used_often_survive_a_scan_of_keys_used_once() {
        // 50 keys read again and again (each every 500 new keys, far less often
        // than a 100-key LRU would need to keep them) amid 5,000 keys used once.
        let mut shard = Shard::new(100);
        let hot: Vec<String> = (0..50).map(|index| format!("hot{index}")).collect();
        for key in &hot {
            put(&mut shard, key);
            for _ in 0..3 {
                read(&mut shard, key);
            }
        }
        for index in 0..5_000 {
            put(&mut shard, &format!("once{index}"));
            if index % 10 == 0 {
                let key = &hot[index / 10 % hot.len()];
                assert!(read(&mut shard, key).is_some(), "{key} lost at {index}");
            }
        }
        for key in &hot {
            assert!(read(&mut shard, key).is_some(), "{key}");
        }
        assert_eq!(shard.len(), 100);
    }

    #[test]
    fn a_candidate_used_once_does_not_push_out_a_key_used_more() {
        let mut shard = Shard::new(10);
        // Probation holds "p0".."p6" (main is full), each used four times.
        for index in 0..10 {
            put(&mut shard, &format!("p{index}"));
        }
        for index in 0..7 {
            for _ in 0..3 {
                shard
                    .sketch
                    .increment(Hashed::new(&format!("p{index}")).hash);
            }
        }
        assert_eq!(shard.probation.len(), 7);
        for index in 0..20 {
            put(&mut shard, &format!("new{index}"));
        }
        for index in 0..7 {
            assert_eq!(segment_of(&shard, &format!("p{index}")), Some("probation"));
        }
        // A candidate used more often than the victim takes its place.
        for _ in 0..6 {
            shard.sketch.increment(Hashed::new("new17").hash);
        }
        for index in 20..23 {
            put(&mut shard, &format!("new{index}"));
        }
        assert_eq!(segment_of(&shard, "new17"), Some("probation"));
        assert_eq!(segment_of(&shard, "p0"), None);
    }

    #[test]
    fn an_expired_victim_or_candidate_never_wins_admission() {
        // A full shard of 10 (window 3, main 7), whose probation victim "v" is
        // read often but expired (replaced so once in probation: a replacement
        // keeps its place).
        let mut shard = Shard::new(10);
        for key in ["v", "k0", "k1", "k2"] {
            put(&mut shard, key);
        }
        let expired = Slot::new(Value::Bytes(Bytes::from_static(b"v")), Some(Duration::ZERO));
        shard.insert(Hashed::new("v"), expired);
        for index in 3..9 {
            put(&mut shard, &format!("k{index}"));
        }
        for _ in 0..10 {
            shard.sketch.increment(Hashed::new("v").hash);
        }
        assert_eq!(shard.len(), 10);
        assert_eq!(
            shard.probation.front().unwrap().0.hash(),
            Hashed::new("v").hash
        );
        // "k6" leaves the window, used once: it still takes the expired key's place.
        put(&mut shard, "new");
        assert_eq!(segment_of(&shard, "v"), None);
        assert_eq!(segment_of(&shard, "k6"), Some("probation"));
        // An expired candidate, however often used, is dropped on leaving the window.
        let expired = Slot::new(Value::Bytes(Bytes::from_static(b"e")), Some(Duration::ZERO));
        shard.insert(Hashed::new("e"), expired);
        for _ in 0..10 {
            shard.sketch.increment(Hashed::new("e").hash);
        }
        for index in 0..3 {
            put(&mut shard, &format!("later{index}"));
        }
        assert_eq!(segment_of(&shard, "e"), None);
        assert_eq!(shard.len(), 10);
    }

    #[test]
    fn a_key_read_on_every_operation_survives_any_stream_of_new_keys() {
        let mut shard = Shard::new(157);
        let mut rng = fastrand::Rng::with_seed(1);
        // The shard full of keys used a few times each, then the epoch.
        for index in 0..157 {
            put(&mut shard, &format!("old{index}"));
            for _ in 0..rng.usize(..4) {
                read(&mut shard, &format!("old{index}"));
            }
        }
        put(&mut shard, "epoch");
        for index in 0..20_000 {
            assert!(read(&mut shard, "epoch").is_some(), "epoch lost at {index}");
            let key = format!("new{}", rng.usize(..5_000));
            put(&mut shard, &key);
            if rng.bool() {
                read(&mut shard, &key);
            }
        }
    }

    #[test]
    fn a_new_key_created_in_a_full_shard_has_the_window_to_be_read_again() {
        // Created in a shard full of keys used more than once, and read only
        // after each window's worth less one of new keys used once.
        let mut shard = Shard::new(157);
        for index in 0..157 {
            put(&mut shard, &format!("old{index}"));
            read(&mut shard, &format!("old{index}"));
        }
        put(&mut shard, "version");
        for index in 0..3_000 {
            put(&mut shard, &format!("new{index}"));
            if index % (MIN_WINDOW - 1) == 0 {
                assert!(read(&mut shard, "version").is_some(), "lost at {index}");
            }
        }
    }

    #[test]
    fn an_expired_slot_is_dropped_from_any_segment() {
        let mut shard = one_key_per_segment();
        let expired = |key: &str| {
            Slot::new(
                Value::Bytes(Bytes::from(key.to_owned())),
                Some(Duration::ZERO),
            )
        };
        for key in ["w", "p", "q"] {
            // A replacement keeps the key in its segment, expired or not.
            shard.insert(Hashed::new(key), expired(key));
            assert!(segment_of(&shard, key).is_some());
            let len = shard.len();
            assert!(shard
                .peek(Hashed::new(key))
                .is_some_and(|slot| !slot.is_live()));
            assert_eq!(read(&mut shard, key), None);
            assert_eq!(segment_of(&shard, key), None);
            assert_eq!(shard.len(), len - 1);
        }
    }

    #[test]
    fn replacing_a_value_keeps_the_key_in_its_segment() {
        let mut shard = one_key_per_segment();
        for (key, segment) in [("w", "window"), ("p", "probation"), ("q", "protected")] {
            shard.insert(Hashed::new(key), slot("new"));
            assert_eq!(segment_of(&shard, key), Some(segment));
            let peeked = shard.peek(Hashed::new(key)).unwrap();
            assert_eq!(peeked.value.as_bytes(), Some(&b"new"[..]));
        }
        assert_eq!(shard.len(), 5);
        // A read of a probation key is what promotes it.
        assert_eq!(read(&mut shard, "p").as_deref(), Some("new"));
        assert_eq!(segment_of(&shard, "p"), Some("protected"));
    }

    #[test]
    fn remove_finds_the_key_in_any_segment() {
        let mut shard = one_key_per_segment();
        for key in ["w", "p", "q"] {
            let len = shard.len();
            shard.remove(Hashed::new(key));
            assert_eq!(segment_of(&shard, key), None);
            assert_eq!(read(&mut shard, key), None);
            assert_eq!(shard.len(), len - 1);
        }
        shard.remove(Hashed::new("never stored"));
        assert_eq!(shard.len(), 2);
    }

    #[test]
    fn protected_over_its_share_demotes_its_least_recently_used_key() {
        // A shard of 10: main of 7, protected of 5 at most.
        let mut shard = Shard::new(10);
        for index in 0..10 {
            put(&mut shard, &format!("k{index}"));
        }
        for index in 0..6 {
            read(&mut shard, &format!("k{index}"));
        }
        assert_eq!(shard.protected.len(), 5);
        assert_eq!(segment_of(&shard, "k0"), Some("probation"));
        assert_eq!(segment_of(&shard, "k5"), Some("protected"));
        assert_eq!(shard.len(), 10);
    }
}
