//! What the local tier keeps: entries keyed by a call's identity, each with
//! the versions it was computed under and its expiry.

use std::any::Any;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use xxhash_rust::xxh3::xxh3_128;

/// Where an entry is: its namespace and function (`scope`) and the hash of
/// its arguments. 24 bytes, compared whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryKey {
    /// The namespace's salt xor the function's identity (its path, and the
    /// `Self` and type arguments where those are part of the key): two
    /// functions or namespaces collide here with a chance of 2^-64 per pair,
    /// and then still need the same 128-bit argument hash to share an entry.
    scope: u64,
    args_high: u64,
    args_low: u64,
}

impl EntryKey {
    pub(crate) fn new(scope: u64, args: u128) -> EntryKey {
        EntryKey {
            scope,
            args_high: (args >> 64) as u64,
            args_low: args as u64,
        }
    }

    /// The key of a string written through the `Backend` trait, in a scope no
    /// namespace has.
    pub(crate) fn raw(key: &str) -> EntryKey {
        EntryKey::new(RAW_SCOPE, xxh3_128(key.as_bytes()))
    }

    /// A hash of the key for spreading keys (already a hash: only folded).
    pub(crate) fn spread(&self) -> u64 {
        self.scope ^ self.args_low ^ self.args_high.rotate_left(32)
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

/// What an entry depends on besides its key.
pub(crate) struct Header {
    /// When it stops being served (`None`: never).
    pub(crate) expires: Option<Instant>,
    /// The namespace's epoch when its computation started.
    pub(crate) epoch: u64,
    /// Its tags (hashes of their names) and their versions when its
    /// computation started.
    pub(crate) tags: Box<[(u64, u64)]>,
    /// The namespace's count of cleans through which the versions above are
    /// known to be current: while the count stays there, a hit reads no
    /// version (see `namespace.rs`).
    pub(crate) checked_through: AtomicU64,
}

impl Header {
    pub(crate) fn new(
        expires: Option<Instant>,
        epoch: u64,
        tags: Box<[(u64, u64)]>,
        checked_through: u64,
    ) -> Header {
        Header {
            expires,
            epoch,
            tags,
            checked_through: AtomicU64::new(checked_through),
        }
    }

    /// Whether the entry has expired at `now`.
    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|expires| now >= expires)
    }

    /// Whether the entry expires at all (a hit then reads the clock).
    pub(crate) fn expires(&self) -> bool {
        self.expires.is_some()
    }

    pub(crate) fn checked_through(&self) -> u64 {
        self.checked_through.load(Ordering::Relaxed)
    }

    /// The versions were found current through `cleans`.
    pub(crate) fn checked(&self, cleans: u64) {
        self.checked_through.fetch_max(cleans, Ordering::Relaxed);
    }
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
        assert_ne!(EntryKey::raw("a"), EntryKey::raw("b"));
    }

    #[test]
    fn an_entry_gives_its_value_only_as_its_own_type() {
        let entry = entry(Header::new(None, 1, Box::new([]), 0), 5u64);
        assert_eq!(entry.value::<u64>(), Some(&5));
        assert_eq!(entry.value::<u32>(), None);
    }
}
