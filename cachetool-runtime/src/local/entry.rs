//! What the local tier keeps: entries keyed by a call's identity, each with
//! the versions it was computed under, until when it is fresh and until
//! when it is kept.

use std::any::Any;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use xxhash_rust::xxh3::xxh3_128;

/// Where an entry is: its namespace and function (`scope`) and the hash of
/// its arguments, folded into 128 bits. Two calls share a key only if their
/// argument hashes differ by exactly the difference of their scopes: a chance
/// of 2^-128 per pair, as for two arguments sharing a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryKey(u128);

impl EntryKey {
    pub(crate) fn new(scope: u64, args: u128) -> EntryKey {
        let scope = u128::from(scope);
        EntryKey(args ^ (scope << 64 | scope))
    }

    /// The key of a string written through the `Backend` trait, in a scope no
    /// namespace has.
    pub(crate) fn raw(key: &str) -> EntryKey {
        EntryKey::new(RAW_SCOPE, xxh3_128(key.as_bytes()))
    }

    /// A hash of the key for spreading keys (already a hash: only folded).
    pub(crate) fn spread(&self) -> u64 {
        (self.0 as u64) ^ ((self.0 >> 64) as u64)
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
/// `Arc<Entry<dyn Any + Send + Sync>>`: one allocation, the header read
/// without a virtual call, the value downcast to its type.
pub(crate) struct Entry<T: ?Sized> {
    pub(crate) header: Header,
    pub(crate) value: T,
}

/// An entry as the store keeps it.
pub(crate) type SharedEntry = Arc<Entry<dyn Any + Send + Sync>>;

/// What an entry depends on besides its key: 40 bytes, as every entry has one.
pub(crate) struct Header {
    /// When it stops being a hit, in nanoseconds after [`clock_base`]
    /// ([`NEVER`]: never).
    fresh_until: u64,
    /// When it is dropped, as `fresh_until`: later than that for the reads
    /// that want an expired value (`stale`, `fail_safe`), else the same.
    expires_at: u64,
    /// The namespace's epoch when its computation started.
    pub(crate) epoch: u64,
    /// Its tags (hashes of their names) and their versions when its
    /// computation started (`None`: no tag, the most common case).
    // Boxed: an 8-byte thin pointer in every header, where a `Vec` takes 24
    // and a boxed slice 16; only tagged entries pay the second allocation.
    #[allow(clippy::box_collection)]
    tags: Option<Box<Vec<(u64, u64)>>>,
    /// The namespace's count of cleans through which the versions above are
    /// known to be current: while the count stays there, a hit reads no
    /// version (see `namespace.rs`).
    checked_through: AtomicU64,
}

impl Header {
    /// A header fresh until `expires`, and dropped then.
    pub(crate) fn new(
        expires: Option<Instant>,
        epoch: u64,
        tags: &[(u64, u64)],
        checked_through: u64,
    ) -> Header {
        let expires_at = nanos_after_base(expires);
        Header {
            fresh_until: expires_at,
            expires_at,
            epoch,
            tags: (!tags.is_empty()).then(|| Box::new(tags.to_vec())),
            checked_through: AtomicU64::new(checked_through),
        }
    }

    /// The same header, kept until `kept` (not before it is fresh until).
    pub(crate) fn kept_until(mut self, kept: Option<Instant>) -> Header {
        self.expires_at = nanos_after_base(kept).max(self.fresh_until);
        self
    }

    /// Whether the entry is past the time it is kept until at `now`: it is dropped.
    #[inline]
    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.expires_at != NEVER && since_base(now) >= u128::from(self.expires_at)
    }

    /// Whether the entry is past its freshness at `now`: no longer a hit.
    #[inline]
    pub(crate) fn stale(&self, now: Instant) -> bool {
        self.fresh_until != NEVER && since_base(now) >= u128::from(self.fresh_until)
    }

    /// How long ago the entry stopped being fresh at `now` (`None`: it is fresh).
    pub(crate) fn stale_for(&self, now: Instant) -> Option<std::time::Duration> {
        let since = since_base(now);
        (self.stale(now)).then(|| {
            let nanos = since.saturating_sub(u128::from(self.fresh_until));
            std::time::Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
        })
    }

    /// Whether the entry expires at all (a hit then reads the clock).
    #[inline]
    pub(crate) fn expires(&self) -> bool {
        self.fresh_until != NEVER
    }

    /// Its tags and their versions.
    pub(crate) fn tags(&self) -> &[(u64, u64)] {
        self.tags.as_deref().map_or(&[], Vec::as_slice)
    }

    pub(crate) fn checked_through(&self) -> u64 {
        self.checked_through.load(Ordering::Relaxed)
    }

    /// The versions were found current through `cleans`.
    pub(crate) fn checked(&self, cleans: u64) {
        self.checked_through.fetch_max(cleans, Ordering::Relaxed);
    }
}

/// The `expires_at` of an entry that never expires.
const NEVER: u64 = u64::MAX;

/// The instant expiries are counted from: the first time one is needed.
fn clock_base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// `at` as nanoseconds after [`clock_base`]; [`NEVER`] for `None`, or past
/// the range of a u64 of nanoseconds (584 years).
fn nanos_after_base(at: Option<Instant>) -> u64 {
    at.map_or(NEVER, |at| u64::try_from(since_base(at)).unwrap_or(NEVER))
}

/// Nanoseconds from [`clock_base`] to `at` (0 before it: an expiry before
/// the base has passed for every reader).
fn since_base(at: Instant) -> u128 {
    at.saturating_duration_since(clock_base()).as_nanos()
}

/// A new entry holding `value`.
pub(crate) fn entry<T: Any + Send + Sync>(header: Header, value: T) -> SharedEntry {
    Arc::new(Entry { header, value })
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
        assert_ne!(EntryKey::raw("a"), EntryKey::raw("b"));
    }

    #[test]
    fn a_header_is_small_and_keeps_its_expiry_and_tags() {
        assert_eq!(std::mem::size_of::<Header>(), 40);
        assert_eq!(std::mem::size_of::<EntryKey>(), 16);
        let now = Instant::now();
        let later = now + std::time::Duration::from_secs(5);
        let header = Header::new(Some(later), 1, &[(2, 3)], 0);
        assert!(header.expires() && !header.expired(now) && !header.stale(now));
        assert!(header.expired(later) && header.expired(later + later.duration_since(now)));
        assert!(header.stale(later));
        // Kept past its freshness: stale first, dropped later.
        let kept = Header::new(Some(later), 1, &[], 0).kept_until(Some(later + (later - now)));
        assert!(kept.stale(later) && !kept.expired(later));
        assert!(kept.expired(later + (later - now)));
        let kept_forever = Header::new(Some(later), 1, &[], 0).kept_until(None);
        assert!(kept_forever.stale(later) && !kept_forever.expired(later + (later - now)));
        assert_eq!(header.tags(), &[(2, 3)]);
        let forever = Header::new(None, 1, &[], 0);
        assert!(!forever.expires() && !forever.expired(later) && forever.tags().is_empty());
        // An expiry at or before the base instant has passed.
        let at_base = Header::new(Some(clock_base()), 1, &[], 0);
        assert!(at_base.expires() && at_base.expired(now));
    }

    #[test]
    fn an_entry_gives_its_value_only_as_its_own_type() {
        let entry = entry(Header::new(None, 1, &[], 0), 5u64);
        assert_eq!(entry.value::<u64>(), Some(&5));
        assert_eq!(entry.value::<u32>(), None);
    }
}
