//! What the local tier keeps: entries keyed by a call's identity, each with
//! the versions it was computed under, until when it is fresh and until
//! when it is kept.

use std::any::Any;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use xxhash_rust::xxh3::xxh3_128;

use super::clock;

/// Where an entry is: its namespace and function (`scope`) and the hash of
/// its arguments, folded into 128 bits. Two calls share a key only if their
/// argument hashes differ by exactly the difference of their scopes: a chance
/// of 2^-128 per pair, as for two arguments sharing a hash.
// Two `u64`s, not a `u128`: a `u128` is aligned to 16 bytes, and quick_cache's
// slot of a key, the entry's pointer and its own state then takes 16 bytes
// more (the memory bench counted 146.5 bytes an entry against 125.5, when
// entries were `Arc`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryKey {
    high: u64,
    low: u64,
}

impl EntryKey {
    pub(crate) fn new(scope: u64, args: u128) -> EntryKey {
        EntryKey {
            high: (args >> 64) as u64 ^ scope,
            low: args as u64 ^ scope,
        }
    }

    /// The key of a string written through the `Backend` trait, in a scope no
    /// namespace has.
    pub(crate) fn raw(key: &str) -> EntryKey {
        EntryKey::new(RAW_SCOPE, xxh3_128(key.as_bytes()))
    }

    /// A hash of the key for spreading keys (already a hash: only folded).
    /// One half is rotated: both carry the scope, which a plain XOR of the
    /// halves would cancel, giving every function called with the same
    /// arguments one hash.
    pub(crate) fn spread(&self) -> u64 {
        self.high ^ self.low.rotate_left(32)
    }
}

/// The scope of keys written through the `Backend` trait (a namespace's salt
/// is never 0: see `namespace.rs`).
const RAW_SCOPE: u64 = 0;

impl Hash for EntryKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // One write: the parts are hashes already.
        state.write_u64(self.spread());
    }
}

/// Hashes an [`EntryKey`] by folding its one `u64` (a multiply and a shift
/// spread its bits over the high half, which picks the shard, and the low
/// half, which picks the slot).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FoldHash;

/// The hasher of [`FoldHash`].
#[derive(Debug, Default)]
pub(crate) struct FoldHasher(u64);

impl BuildHasher for FoldHash {
    type Hasher = FoldHasher;
    fn build_hasher(&self) -> FoldHasher {
        FoldHasher(0)
    }
}

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Not used by `EntryKey`; correct for anything else.
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }

    fn finish(&self) -> u64 {
        let folded = (self.0 as u128) * 0x9E37_79B9_7F4A_7C15;
        (folded as u64) ^ ((folded >> 64) as u64)
    }
}

/// An entry: what it holds and what it depends on. Kept as
/// `Box<Entry<dyn Any + Send + Sync>>`: one allocation, the header read
/// without a virtual call, the value downcast to its type.
pub(crate) struct Entry<T: ?Sized> {
    pub(crate) header: Header,
    pub(crate) value: T,
}

/// An entry as the store keeps it: owned by its slot, never shared. Every
/// read happens in place, under the shard's lock, and clones only the value
/// out; an entry that leaves the store is dropped once that lock is released.
// A `Box`, not an `Arc`: the `Arc`'s two counts were 16 of the 48 bytes of a
// `u64` entry's allocation, and the memory bench counted 128.3 bytes an
// entry with them.
pub(crate) type StoredEntry = Box<Entry<dyn Any + Send + Sync>>;

/// What an entry depends on besides its key: 24 bytes, as every entry has one
/// (with a `u64` value, a 32-byte allocation).
pub(crate) struct Header {
    /// When it stops being a plain hit, on the local clock ([`clock::NEVER`]:
    /// never): the end of its TTL, or with `refresh_ahead` the time from
    /// which a hit also starts a recomputation.
    fresh_until: u64,
    /// The namespace's epoch when its computation started.
    pub(crate) epoch: u64,
    /// What few entries have: tags, a refresh point before the end of the
    /// TTL, or a time it is kept until past it (`None`: none of them, the
    /// most common case).
    // Boxed: an 8-byte thin pointer in every header, where a `Vec` takes 24;
    // only the entries that have them pay the second allocation.
    extras: Option<Box<Extras>>,
}

/// The rarer parts of a [`Header`].
struct Extras {
    /// Its tags (hashes of their names) and their versions when its
    /// computation started.
    tags: Vec<(u64, u64)>,
    /// When its TTL runs out: `fresh_until`, unless `refresh_ahead` moved
    /// that earlier.
    expires_at: u64,
    /// When it is dropped, past `expires_at` for the reads that want an
    /// expired value (`stale`, `fail_safe`); `expires_at` itself if none does.
    kept_until: u64,
    /// With tags: the namespace's count of cleans through which the versions
    /// above are known to be current. While the count stays there, a hit
    /// reads no tag's version (see `namespace.rs`). An untagged entry needs
    /// no count: its one version, the epoch, is one load to compare.
    checked_through: AtomicU64,
}

impl Header {
    /// A header of an entry fresh for `ttl` from now (`None`: until evicted
    /// or invalidated), and dropped then.
    pub(crate) fn new(
        ttl: Option<Duration>,
        epoch: u64,
        tags: &[(u64, u64)],
        checked_through: u64,
    ) -> Header {
        let fresh_until = ttl.map_or(clock::NEVER, clock::after);
        Header {
            fresh_until,
            epoch,
            extras: (!tags.is_empty())
                .then(|| Extras::new(tags.to_vec(), fresh_until, checked_through)),
        }
    }

    /// The same header, kept for `kept` from now (`None`: until evicted or
    /// invalidated), and never less than its TTL.
    pub(crate) fn kept_for(mut self, kept: Option<Duration>) -> Header {
        let expires_at = self.expires_at();
        let kept_until = kept.map_or(clock::NEVER, clock::after).max(expires_at);
        if kept_until != expires_at {
            self.extras_mut().kept_until = kept_until;
        }
        self
    }

    /// The same header, a plain hit only until `after` from now (if that is
    /// before the end of its TTL): from then on a hit also starts a
    /// recomputation (`refresh_ahead`).
    pub(crate) fn refreshed_after(mut self, after: Duration) -> Header {
        let refresh_at = clock::after(after);
        if refresh_at < self.fresh_until {
            let _ = self.extras_mut();
            self.fresh_until = refresh_at;
        }
        self
    }

    /// The extras, made if the header has none (with its times as they are).
    fn extras_mut(&mut self) -> &mut Extras {
        let fresh_until = self.fresh_until;
        self.extras
            .get_or_insert_with(|| Extras::new(Vec::new(), fresh_until, 0))
    }

    /// When its TTL runs out.
    fn expires_at(&self) -> u64 {
        self.extras
            .as_ref()
            .map_or(self.fresh_until, |extras| extras.expires_at)
    }

    /// When the entry is dropped.
    fn kept_until(&self) -> u64 {
        self.extras
            .as_ref()
            .map_or(self.fresh_until, |extras| extras.kept_until)
    }

    /// Whether the entry is past the time it is kept until at `now` (on the
    /// local clock): it is dropped.
    #[inline]
    pub(crate) fn expired(&self, now: u64) -> bool {
        // `kept_until` is never before `fresh_until`: a fresh entry is
        // answered without reading the extras.
        now >= self.fresh_until && now >= self.kept_until()
    }

    /// Whether the entry is past its freshness at `now`: no longer a plain
    /// hit (past its TTL, or due for a refresh ahead of it).
    #[inline]
    pub(crate) fn stale(&self, now: u64) -> bool {
        now >= self.fresh_until
    }

    /// How long ago the entry's TTL ran out at `now` (`None`: it has not).
    pub(crate) fn stale_for(&self, now: u64) -> Option<Duration> {
        let expires_at = self.expires_at();
        (now >= expires_at).then(|| clock::between(expires_at, now))
    }

    /// Whether the entry expires at all (a hit then reads the clock).
    #[inline]
    pub(crate) fn expires(&self) -> bool {
        self.fresh_until != clock::NEVER
    }

    /// Its tags and their versions.
    pub(crate) fn tags(&self) -> &[(u64, u64)] {
        self.extras.as_ref().map_or(&[], |extras| &extras.tags)
    }

    /// With tags, the count of cleans through which its versions are known
    /// current (`None`: no tags, the epoch alone says).
    #[inline]
    pub(crate) fn checked_through(&self) -> Option<u64> {
        let extras = self.extras.as_deref()?;
        (!extras.tags.is_empty()).then(|| extras.checked_through.load(Ordering::Relaxed))
    }

    /// The versions were found current through `cleans`.
    pub(crate) fn checked(&self, cleans: u64) {
        if let Some(extras) = &self.extras {
            extras.checked_through.fetch_max(cleans, Ordering::Relaxed);
        }
    }
}

impl Extras {
    fn new(tags: Vec<(u64, u64)>, expires_at: u64, checked_through: u64) -> Box<Extras> {
        Box::new(Extras {
            tags,
            expires_at,
            kept_until: expires_at,
            checked_through: AtomicU64::new(checked_through),
        })
    }
}

/// A new entry holding `value`.
pub(crate) fn entry<T: Any + Send + Sync>(header: Header, value: T) -> StoredEntry {
    Box::new(Entry { header, value })
}

impl Entry<dyn Any + Send + Sync> {
    /// The value, if it is a `T`.
    #[inline]
    pub(crate) fn value<T: 'static>(&self) -> Option<&T> {
        self.value.downcast_ref::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_scope_and_by_each_half_of_the_arguments() {
        let key = EntryKey::new(7, 1 << 70 | 5);
        assert_eq!(key, EntryKey::new(7, 1 << 70 | 5));
        assert_ne!(key, EntryKey::new(8, 1 << 70 | 5));
        assert_ne!(key, EntryKey::new(7, 1 << 71 | 5));
        assert_ne!(key, EntryKey::new(7, 1 << 70 | 6));
        assert_ne!(
            EntryKey::new(1, 0),
            EntryKey::new(2, 0),
            "the same arguments"
        );
        assert_ne!(
            EntryKey::new(1, 5).spread(),
            EntryKey::new(2, 5).spread(),
            "two functions' keys of the same arguments spread apart"
        );
        assert_ne!(EntryKey::raw("a"), EntryKey::raw("b"));
    }

    #[test]
    fn a_header_is_small_and_keeps_its_expiry_and_tags() {
        assert_eq!(std::mem::size_of::<Header>(), 24);
        assert_eq!(std::mem::align_of::<EntryKey>(), 8);
        assert_eq!(std::mem::size_of::<EntryKey>(), 16);
        let now = clock::now();
        let header = Header::new(Some(Duration::from_secs(5)), 1, &[(2, 3)], 0);
        let later = clock::after(Duration::from_secs(5));
        assert!(header.expires() && !header.expired(now) && !header.stale(now));
        assert!(header.expired(later) && header.expired(later + 1) && header.stale(later));
        assert_eq!(header.stale_for(header.fresh_until - 1), None);
        assert_eq!(header.stale_for(header.fresh_until), Some(Duration::ZERO));
        // Made after the header, so at least a second past its TTL (a lower
        // bound only: a loaded machine may pause between the two).
        let a_second_past = clock::after(Duration::from_secs(6));
        let ago = header.stale_for(a_second_past).expect("past its TTL");
        assert!(ago >= Duration::from_millis(999), "{ago:?}");
        assert_eq!(header.tags(), &[(2, 3)]);
        let forever = Header::new(None, 1, &[], 0);
        assert!(!forever.expires() && !forever.expired(later) && forever.tags().is_empty());
        assert!(
            forever.extras.is_none(),
            "no tags, kept no longer than fresh: no extras"
        );
        let expired_at_once = Header::new(Some(Duration::ZERO), 1, &[], 0);
        assert!(expired_at_once.expires() && expired_at_once.expired(clock::now()));
    }

    #[test]
    fn a_header_kept_past_its_freshness_is_stale_first_and_dropped_later() {
        let five = Duration::from_secs(5);
        let kept = Header::new(Some(five), 1, &[(2, 3)], 0).kept_for(Some(five * 2));
        let (stale_at, dropped_at) = (clock::after(five), clock::after(five * 2));
        assert!(kept.stale(stale_at) && !kept.expired(stale_at));
        assert!(kept.expired(dropped_at));
        assert_eq!(kept.tags(), &[(2, 3)], "the tags stay beside the time kept");
        let kept_forever = Header::new(Some(five), 1, &[], 0).kept_for(None);
        let stale_at = clock::after(five);
        assert!(kept_forever.stale(stale_at) && !kept_forever.expired(u64::MAX - 1));
        // Kept no longer than fresh: nothing extra, dropped when stale.
        let same = Header::new(Some(five), 1, &[], 0).kept_for(Some(Duration::ZERO));
        assert!(same.extras.is_none() && same.expired(clock::after(five)));
    }

    #[test]
    fn a_header_refreshed_ahead_stops_being_a_plain_hit_before_its_ttl_runs_out() {
        let secs = Duration::from_secs;
        let header = Header::new(Some(secs(10)), 1, &[], 0)
            .kept_for(Some(secs(20)))
            .refreshed_after(secs(8));
        let (refresh_at, expires_at) = (clock::after(secs(8)), clock::after(secs(10)));
        assert!(header.stale(refresh_at), "due for a refresh");
        assert_eq!(header.stale_for(refresh_at), None, "but its TTL runs on");
        assert!(header.stale_for(expires_at).is_some());
        assert!(!header.expired(expires_at) && header.expired(clock::after(secs(20))));
        let late = Header::new(Some(secs(10)), 1, &[], 0).refreshed_after(secs(20));
        assert!(
            late.extras.is_none(),
            "a refresh point past the TTL is none"
        );
    }

    #[test]
    fn an_entry_gives_its_value_only_as_its_own_type() {
        let entry = entry(Header::new(None, 1, &[], 0), 5u64);
        assert_eq!(entry.value::<u64>(), Some(&5));
        assert_eq!(entry.value::<u32>(), None);
    }
}
