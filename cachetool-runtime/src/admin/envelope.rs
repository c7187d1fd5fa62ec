//! What an entry holds: the envelope that Redis and Memcached keep (see the
//! README, "Stored values").

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::codec;

/// The fields of an entry as stored in Redis or Memcached.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// Whether this is the tombstone an invalidation leaves (no value).
    pub tombstone: bool,
    /// A random number, new on every write.
    pub stamp: u64,
    /// When it was written, in Unix milliseconds.
    pub created_unix_ms: u64,
    /// The xxh3-64 of the value's Rust type name (0 in a tombstone).
    pub type_fingerprint: u64,
    /// Until when it is fresh, in Unix milliseconds (0: always); the server
    /// may keep it longer, for `stale` and `fail_safe`.
    pub fresh_until_unix_ms: u64,
    /// The versions it was computed under: the namespace epoch's, then each
    /// tag's in the function's tag order. It is current while each equals
    /// [`version_of`] what its key holds now.
    pub versions: Vec<u64>,
    /// The value, CBOR (serde's data model, as ciborium writes it).
    pub value: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// The envelope in `bytes`; `None` if they are not one (another
    /// program's value, another format).
    pub fn parse(bytes: &'a [u8]) -> Option<Envelope<'a>> {
        codec::read_envelope(bytes)
    }

    /// When it was written.
    pub fn created(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.created_unix_ms)
    }
}

/// The version that an epoch or tag key holding `stored` stands for: what an
/// entry's [`Envelope::versions`] are compared with.
pub fn version_of(stored: &[u8]) -> u64 {
    codec::version_of_bytes(stored)
}
