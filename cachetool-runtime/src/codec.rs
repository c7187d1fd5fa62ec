//! What an entry looks like in a backend, and tag versions.
//!
//! Byte backends (Redis, Memcached) store an envelope that other languages can
//! read (all integers little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | magic `b"CT"` |
//! | 2 | 1 | format version, 2 |
//! | 3 | 1 | kind: 0 value, 1 tombstone (left by an invalidation) |
//! | 4 | 8 | stamp: random, new on every write |
//! | 12 | 8 | creation time, Unix milliseconds |
//! | 20 | 8 | xxh3-64 of the value's Rust type name (0 in a tombstone) |
//! | 28 | 8 | fresh until, Unix milliseconds (0: always fresh) |
//! | 36 | 2 | n, the number of versions |
//! | 38 | 8n | the versions the value was computed under: the namespace epoch's, then each tag's |
//! | 38+8n | rest | the value, CBOR |
//!
//! A version is the xxh3-64 of the bytes stored under the epoch or tag key.
//! Anything that is not such an envelope, of this format and of the expected
//! type, computed under the current versions, reads as a miss; so does a
//! value past its "fresh until" ([`decode`]). The backend may keep an entry
//! longer than it is fresh (by the function's `fail_safe`), for
//! the reads that want an expired value ([`decode_expired_too`]). Format 1
//! (before "fresh until") reads as a miss.
//!
//! The in-process backend stores [`TypedEntry`] objects with the same meaning.
//!
//! Decoding never trusts a length it has not checked against the bytes it
//! has: the number of versions against the versions expected, every CBOR
//! length against the bytes left (see `lengths`), so that a damaged or forged
//! entry reads as a miss without allocating more than its own size for a
//! `Vec<u8>` or a `String` (more generally, its size times the size of an
//! element in memory). `fuzz` feeds the decoder a million random and mutated
//! envelopes to check it.

// SAFETY: the only `unsafe` of the crate, in tests only: a `GlobalAlloc`
// that passes every call to `System` unchanged and notes allocation sizes in
// const-initialized thread-locals (see its own SAFETY comments).
#[cfg(test)]
#[allow(unsafe_code)]
pub(crate) mod fuzz;
mod lengths;

use std::any::type_name;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use xxhash_rust::xxh3::xxh3_64;

use crate::backend::Value;

const MAGIC: [u8; 2] = *b"CT";
const FORMAT: u8 = 2;
const KIND_VALUE: u8 = 0;
const KIND_TOMBSTONE: u8 = 1;
const HEADER_LEN: usize = 38;
/// Where the header's creation time, "fresh until" and number of versions are.
const CREATED_AT: usize = 12;
const FRESH_AT: usize = 28;
const COUNT_AT: usize = 36;

/// When an entry stops being fresh, in Unix milliseconds; 0: never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FreshUntil(u64);

impl FreshUntil {
    /// Always fresh: an entry without a TTL.
    pub(crate) const ALWAYS: FreshUntil = FreshUntil(0);

    /// Fresh for `ttl` from now (`None`: always).
    pub(crate) fn after(ttl: Option<Duration>) -> FreshUntil {
        match ttl {
            // At least 1: 0 means "always".
            Some(ttl) => FreshUntil(unix_ms_now().saturating_add(ttl.as_millis() as u64).max(1)),
            None => FreshUntil::ALWAYS,
        }
    }

    /// Whether it is still fresh now.
    #[inline]
    pub(crate) fn is_fresh(self) -> bool {
        self.0 == 0 || unix_ms_now() < self.0
    }

    /// How long ago it stopped being fresh (`None`: it is fresh).
    pub(crate) fn expired_for(self) -> Option<Duration> {
        let now = unix_ms_now();
        (self.0 != 0 && now >= self.0).then(|| Duration::from_millis(now - self.0))
    }

    /// The Unix milliseconds, 0 for always.
    #[cfg(test)]
    pub(crate) fn unix_ms(self) -> u64 {
        self.0
    }
}

/// A value read from an entry, when it was written and when it stops (or
/// stopped) being fresh.
pub(crate) struct Decoded<T> {
    pub(crate) value: T,
    /// Unix milliseconds.
    pub(crate) created: u64,
    pub(crate) fresh_until: FreshUntil,
}

impl<T> Decoded<T> {
    /// Whether the value is past `fraction` of its lifetime (from its
    /// creation to the end of its freshness) now: due for a refresh ahead
    /// of its expiry. Never for an entry that is always fresh.
    pub(crate) fn refresh_due(&self, fraction: f32) -> bool {
        self.plain_hit_until(fraction)
            .is_some_and(|due_at| unix_ms_now() >= due_at)
    }

    /// How much longer the value is a plain hit: fresh, and with `fraction`
    /// over 0, not yet due for a refresh ahead of its TTL. `None`: it is no
    /// plain hit now; `Some(None)`: it always is (no TTL).
    pub(crate) fn plain_hit_for(&self, fraction: f32) -> Option<Option<Duration>> {
        let Some(until) = self.plain_hit_until(fraction) else {
            return Some(None);
        };
        let now = unix_ms_now();
        (now < until).then(|| Some(Duration::from_millis(until - now)))
    }

    /// When the value stops being a plain hit (Unix milliseconds), with
    /// `refresh_ahead = fraction` (0 for none); `None`: never.
    fn plain_hit_until(&self, fraction: f32) -> Option<u64> {
        let FreshUntil(until) = self.fresh_until;
        if until == 0 {
            return None;
        }
        if fraction <= 0.0 {
            return Some(until);
        }
        let lifetime = until.saturating_sub(self.created);
        Some(self.created + (lifetime as f64 * f64::from(fraction)) as u64)
    }
}

/// An entry in an in-process backend.
pub(crate) struct TypedEntry<T> {
    versions: Box<[u64]>,
    created: u64,
    fresh_until: FreshUntil,
    value: T,
}

/// What an invalidation leaves under an entry key in an in-process backend.
/// Every one is a new allocation, so a store that read the key before the
/// invalidation sees that it changed.
struct Tombstone;

/// A new random tag or epoch version, as stored under its key.
pub(crate) fn new_version() -> Value {
    // The decimal digits of a random u64 (`itoa`: `to_string` goes through
    // `fmt`, several times the cost, on every miss).
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(fastrand::u64(..));
    Value::Bytes(Bytes::copy_from_slice(digits.as_bytes()))
}

/// Whether `bytes` are an envelope of this format (a value or a tombstone):
/// what a backend asks before it treats stored bytes as one of our entries
/// (their first [`WRITE_ID_LEN`] bytes then tell one write from another).
pub(crate) fn is_entry(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_LEN && bytes[..2] == MAGIC && bytes[2] == FORMAT
}

/// The length of an envelope's prefix that identifies one write: magic,
/// format, kind and the random stamp (new on every write). (What Redis's
/// compare-and-set script compares.)
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) const WRITE_ID_LEN: usize = 12;

/// The version a tag or epoch key holds: the hash of its bytes, so that any
/// value another program left there still works as a version.
pub(crate) fn version_of(value: &Value) -> u64 {
    match value {
        Value::Bytes(bytes) => version_of_bytes(bytes),
        // Never stored under a version key by us; a version that nothing matches.
        Value::Object(object) => Arc::as_ptr(object) as *const () as u64,
    }
}

/// The version of a tag or epoch key holding `bytes`.
pub(crate) fn version_of_bytes(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

/// The value an invalidation leaves under an entry key.
pub(crate) fn tombstone(objects: bool) -> Value {
    if objects {
        return Value::Object(Arc::new(Tombstone));
    }
    let mut bytes = Vec::with_capacity(HEADER_LEN);
    write_header(&mut bytes, KIND_TOMBSTONE, 0, FreshUntil::ALWAYS, &[]);
    Value::from(bytes)
}

/// An entry holding `value`, computed under `versions`, fresh until `fresh_until`.
pub(crate) fn encode<T>(
    objects: bool,
    versions: &[u64],
    fresh_until: FreshUntil,
    value: &T,
) -> Result<Value, String>
where
    T: Serialize + Clone + Send + Sync + 'static,
{
    if objects {
        return Ok(Value::Object(Arc::new(TypedEntry {
            versions: versions.into(),
            created: unix_ms_now(),
            fresh_until,
            value: value.clone(),
        })));
    }
    let mut bytes = Vec::with_capacity(HEADER_LEN + 8 * versions.len() + 64);
    let fingerprint = type_fingerprint::<T>();
    write_header(&mut bytes, KIND_VALUE, fingerprint, fresh_until, versions);
    ciborium::into_writer(value, &mut bytes).map_err(|error| error.to_string())?;
    Ok(Value::from(bytes))
}

/// The value of an entry, if it is one of type `T` computed under `versions`
/// and still fresh.
pub(crate) fn decode<T>(entry: &Value, versions: &[u64]) -> Option<T>
where
    T: DeserializeOwned + Clone + 'static,
{
    let decoded = decode_expired_too::<T>(entry, versions)?;
    decoded.fresh_until.is_fresh().then_some(decoded.value)
}

/// The value of an entry, if it is one of type `T` computed under
/// `versions`, fresh or not, with when it stops (or stopped) being fresh.
pub(crate) fn decode_expired_too<T>(entry: &Value, versions: &[u64]) -> Option<Decoded<T>>
where
    T: DeserializeOwned + Clone + 'static,
{
    match entry {
        Value::Object(object) => {
            let entry = object.downcast_ref::<TypedEntry<T>>()?;
            (*entry.versions == *versions).then(|| Decoded {
                value: entry.value.clone(),
                created: entry.created,
                fresh_until: entry.fresh_until,
            })
        }
        Value::Bytes(bytes) => {
            let (created, fresh_until, payload) =
                payload_if_current(bytes, type_fingerprint::<T>(), versions)?;
            if !lengths::lengths_fit(payload) {
                return None;
            }
            let value = with_scratch(|scratch| {
                ciborium::de::from_reader_with_buffer(payload, scratch).ok()
            })?;
            Some(Decoded {
                value,
                created,
                fresh_until,
            })
        }
    }
}

/// ciborium's scratch space for strings and bytes. `from_reader` zeroes a
/// fresh 4 KiB array on every call (about 4,000 instructions a remote hit);
/// this one is reused. The size stays 4 KiB: a `&str` visitor fails on text
/// longer than the scratch space.
fn with_scratch<R>(decode: impl FnOnce(&mut [u8]) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::RefCell<[u8; 4096]> = const { std::cell::RefCell::new([0; 4096]) };
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => decode(&mut scratch[..]),
        // A Deserialize impl that itself decodes a cached value: a fresh buffer.
        Err(_) => decode(&mut [0; 4096]),
    })
}

/// Now, in Unix milliseconds (0 on a clock set before 1970).
fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

fn write_header(
    bytes: &mut Vec<u8>,
    kind: u8,
    fingerprint: u64,
    fresh_until: FreshUntil,
    versions: &[u64],
) {
    bytes.extend_from_slice(&MAGIC);
    bytes.push(FORMAT);
    bytes.push(kind);
    bytes.extend_from_slice(&fastrand::u64(..).to_le_bytes());
    bytes.extend_from_slice(&unix_ms_now().to_le_bytes());
    bytes.extend_from_slice(&fingerprint.to_le_bytes());
    bytes.extend_from_slice(&fresh_until.0.to_le_bytes());
    // Never more than a function's tags plus one; u16 is plenty.
    bytes.extend_from_slice(&(versions.len() as u16).to_le_bytes());
    for version in versions {
        bytes.extend_from_slice(&version.to_le_bytes());
    }
}

/// When the value was written (Unix milliseconds), when it stops being
/// fresh, and its CBOR, if `bytes` are a value of this format and type
/// computed under `versions`.
fn payload_if_current<'a>(
    bytes: &'a [u8],
    fingerprint: u64,
    versions: &[u64],
) -> Option<(u64, FreshUntil, &'a [u8])> {
    let header = bytes.get(..HEADER_LEN)?;
    let field = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap());
    let current = header[..2] == MAGIC
        && header[2] == FORMAT
        && header[3] == KIND_VALUE
        && field(20) == fingerprint
        && usize::from(u16::from_le_bytes([header[COUNT_AT], header[COUNT_AT + 1]]))
            == versions.len();
    if !current {
        return None;
    }
    let stored_versions = bytes.get(HEADER_LEN..HEADER_LEN + 8 * versions.len())?;
    let same_versions = stored_versions
        .chunks_exact(8)
        .zip(versions)
        .all(|(stored, version)| stored == version.to_le_bytes());
    let fresh_until = FreshUntil(field(FRESH_AT));
    let payload = &bytes[HEADER_LEN + 8 * versions.len()..];
    same_versions.then_some((field(CREATED_AT), fresh_until, payload))
}

/// The fields of an envelope, for tools that read entries (`admin`); `None`
/// if `bytes` is not an envelope of this format.
pub(crate) fn read_envelope(bytes: &[u8]) -> Option<crate::admin::Envelope<'_>> {
    if !is_entry(bytes) || bytes[3] > KIND_TOMBSTONE {
        return None;
    }
    let header = &bytes[..HEADER_LEN];
    let field = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap());
    let count = usize::from(u16::from_le_bytes([header[COUNT_AT], header[COUNT_AT + 1]]));
    let versions = bytes.get(HEADER_LEN..HEADER_LEN + 8 * count)?;
    Some(crate::admin::Envelope {
        tombstone: header[3] == KIND_TOMBSTONE,
        stamp: field(4),
        created_unix_ms: field(CREATED_AT),
        type_fingerprint: field(20),
        fresh_until_unix_ms: field(FRESH_AT),
        versions: versions
            .chunks_exact(8)
            .map(|version| u64::from_le_bytes(version.try_into().unwrap()))
            .collect(),
        value: &bytes[HEADER_LEN + 8 * count..],
    })
}

/// Tells values of different types apart, so that a changed return type reads
/// as a miss instead of a wrong value.
fn type_fingerprint<T: 'static>() -> u64 {
    xxh3_64(type_name::<T>().as_bytes())
}

#[cfg(test)]
mod tests;
