//! A million random and mutated envelopes through [`decode`], from a seeded
//! PRNG (reproducible: a failure names its case): truncated, extended, bits
//! flipped, bytes overwritten, wrong magic, huge version counts and CBOR
//! lengths, spliced, or random from the first byte. For each:
//!
//! - no panic;
//! - a value only where a reference decoder, written here independently of
//!   `payload_if_current` (the header checked field by field, then plain
//!   `ciborium::from_reader`), reads the same value: never a value from an
//!   envelope that is not of this format, kind, type and versions, or whose
//!   payload does not decode; and a miss where the reference reads a value
//!   only if the payload is not one well-formed CBOR item (ciborium stops
//!   reading an array once it has what it wants; the length check does not);
//! - no single allocation during the decode is larger than the envelope,
//!   give or take [`ERROR_TEXT`] bytes (measured by a global allocator that,
//!   on the measuring thread only, records the largest allocation).
//!
//! The decoded types hold at most one byte of memory per byte of CBOR
//! (strings, `Vec<u8>`, tuples and options of them), and the envelopes stay
//! under ciborium's 4 KiB scratch space: a longer string is read in 4 KiB
//! chunks into a `String` that grows by doubling, up to twice what was read
//! (still bounded by the bytes there, never by a claimed length; see
//! `long_strings_allocate_at_most_twice_what_they_hold`).
//!
//! Why a unit test: `decode` is private to the crate, and an integration test
//! binary would need it made public. The allocator below is this test
//! binary's global allocator; on threads that are not measuring it only adds
//! a thread-local read to each allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::*;

/// The number of cases.
const CASES: usize = 1_000_000;
/// The PRNG seed: change it to explore, keep it to reproduce.
const SEED: u64 = 0x00c0_ffee_10ca_1e5d;
/// What a failed decode may allocate beyond the envelope's size: the text of
/// serde's and ciborium's error, whatever the input ("invalid type: floating
/// point `0.000...`, expected a sequence": an `f64` in full decimal is up to
/// about 330 characters), in a `String` grown by doubling. A length claimed
/// past the bytes would allocate up to 1 MiB (serde's cap on preallocation).
const ERROR_TEXT: usize = 1024;

struct LargestAllocation;

thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: an allocation while this thread's locals are torn down.
    let _ = MEASURING.try_with(|measuring| {
        if measuring.get() {
            LARGEST.with(|largest| largest.set(largest.get().max(size)));
        }
    });
}

// SAFETY: every call goes to `System` unchanged; `note` only reads and
// writes two const-initialized thread-locals, which never allocate.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// `f`'s result, and the largest single allocation it made on this thread.
pub(crate) fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|largest| largest.set(0));
    MEASURING.with(|measuring| measuring.set(true));
    let result = f();
    MEASURING.with(|measuring| measuring.set(false));
    (result, LARGEST.with(Cell::get))
}

/// The reference: the payload of `bytes`, if its header is one of ours, of
/// type `T` and `versions` (checked here field by field).
fn reference_payload<'b, T: 'static>(bytes: &'b [u8], versions: &[u64]) -> Option<&'b [u8]> {
    if bytes.len() < 38 + 8 * versions.len() {
        return None;
    }
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    // Bytes 28..36, "fresh until", don't decide whether it decodes.
    let header_ok = bytes[0] == b'C'
        && bytes[1] == b'T'
        && bytes[2] == 2
        && bytes[3] == 0
        && u64_at(20) == xxh3_64(type_name::<T>().as_bytes())
        && usize::from(u16::from_le_bytes([bytes[36], bytes[37]])) == versions.len()
        && (0..versions.len()).all(|index| u64_at(38 + 8 * index) == versions[index]);
    header_ok.then(|| &bytes[38 + 8 * versions.len()..])
}

/// One kind of envelope: its versions and how to make a value of it.
struct Seed {
    versions: Vec<u64>,
    bytes: Vec<u8>,
    check: fn(&[u8], &[u64], usize) -> usize,
}

/// Decodes `bytes` as `T` under `versions` (never panicking, as the reference
/// says, allocating no more than `bytes`); returns whether it decoded.
fn check_as<T>(bytes: &[u8], versions: &[u64], case: usize) -> usize
where
    T: DeserializeOwned + Clone + PartialEq + std::fmt::Debug + 'static,
{
    let entry = Value::from(bytes.to_vec());
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        // Fresh or not: a mutated "fresh until" is not a decoding matter.
        largest_allocation(|| decode_expired_too::<T>(&entry, versions).map(|found| found.value))
    }));
    let Ok((decoded, largest)) = decoded else {
        panic!("case {case} (seed {SEED:#x}): decode panicked on {bytes:02x?}");
    };
    let payload = reference_payload::<T>(bytes, versions);
    let expected = payload.and_then(|payload| ciborium::from_reader::<T, _>(payload).ok());
    match (&decoded, &expected) {
        // A value only where plain ciborium reads the same from a header of ours.
        (Some(_), _) => assert_eq!(
            decoded, expected,
            "case {case} (seed {SEED:#x}): {bytes:02x?}"
        ),
        // Refused where ciborium reads a value: only if the payload is not
        // one well-formed CBOR item (ciborium stops reading an array once it
        // has the fields it wants; a claim past them that the bytes cannot
        // hold is still a damaged payload).
        (None, Some(_)) => assert!(
            ciborium::from_reader::<ciborium::Value, _>(payload.unwrap()).is_err(),
            "case {case} (seed {SEED:#x}): a well-formed payload refused: {bytes:02x?}"
        ),
        (None, None) => {}
    }
    assert!(
        largest <= bytes.len() + ERROR_TEXT,
        "case {case} (seed {SEED:#x}): an allocation of {largest} bytes for {} bytes: {bytes:02x?}",
        bytes.len()
    );
    usize::from(decoded.is_some())
}

fn seed<T>(versions: &[u64], value: &T) -> Seed
where
    T: Serialize + DeserializeOwned + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static,
{
    let entry = encode(false, versions, FreshUntil::ALWAYS, value).unwrap();
    let bytes = entry.as_bytes().unwrap().to_vec();
    assert_eq!(decode::<T>(&entry, versions).as_ref(), Some(value));
    Seed {
        versions: versions.to_vec(),
        bytes,
        check: check_as::<T>,
    }
}

fn seeds() -> Vec<Seed> {
    vec![
        seed(&[0x1111], &"hello".to_string()),
        seed(&[7, 8, 9], &"é".repeat(300)),
        seed(&[], &String::new()),
        seed(&[0xffff_ffff_ffff_ffff], &vec![1u8, 2, 3, 200]),
        seed(&[1, 2], &(3u8, "three".to_string())),
        seed(&[5], &Some(vec![9u8; 40])),
        seed(&[5], &None::<Vec<u8>>),
        seed(&[3], &vec![0u8; 24]),
        seed(&[4, 4], &"x".repeat(3000)),
        // A tombstone, read as a string: never a value.
        Seed {
            versions: vec![],
            bytes: tombstone(false).as_bytes().unwrap().to_vec(),
            check: check_as::<String>,
        },
    ]
}

/// A CBOR header claiming a huge length, for a random major type.
fn huge_header(rng: &mut fastrand::Rng) -> Vec<u8> {
    let major = rng.u8(2..=5) << 5;
    let (info, size) = *rng
        .choice(&[(24u8, 1usize), (25, 2), (26, 4), (27, 8)])
        .unwrap();
    let mut header = vec![major | info];
    header.extend((0..size).map(|index| {
        if index == 0 {
            rng.u8(0x80..)
        } else {
            rng.u8(..)
        }
    }));
    header
}

/// `bytes` changed in one random way.
fn mutate(rng: &mut fastrand::Rng, bytes: &mut Vec<u8>, other: &[u8]) {
    let len = bytes.len();
    match rng.u8(0..10) {
        // Truncated.
        0 => bytes.truncate(rng.usize(0..=len)),
        // Extended with random bytes.
        1 => bytes.extend((0..rng.usize(1..64)).map(|_| rng.u8(..))),
        // Bits flipped.
        2 => {
            for _ in 0..rng.usize(1..4) {
                if let Some(byte) = bytes.get_mut(rng.usize(0..len.max(1))) {
                    *byte ^= 1 << rng.u8(0..8);
                }
            }
        }
        // A byte overwritten, often in the header.
        3 => {
            let at = if rng.bool() {
                rng.usize(0..30)
            } else {
                rng.usize(0..len.max(1))
            };
            if let Some(byte) = bytes.get_mut(at) {
                *byte = rng.u8(..);
            }
        }
        // Wrong magic or format.
        4 => {
            if len >= 3 {
                bytes[rng.usize(0..3)] = rng.u8(..);
            }
        }
        // A huge (or random) number of versions.
        5 => {
            if len >= 30 {
                let count: u16 = if rng.bool() { u16::MAX } else { rng.u16(..) };
                bytes[28..30].copy_from_slice(&count.to_le_bytes());
            }
        }
        // A huge CBOR length, written over the payload or inserted into it.
        6 | 7 => {
            let at = rng.usize(30.min(len)..=len);
            let header = huge_header(rng);
            if rng.bool() {
                bytes.truncate(at);
                bytes.extend_from_slice(&header);
                bytes.extend((0..rng.usize(0..16)).map(|_| rng.u8(..)));
            } else {
                bytes.splice(at..at, header);
            }
        }
        // Spliced with another envelope.
        8 => {
            let at = rng.usize(0..=len);
            let from = rng.usize(0..=other.len());
            bytes.truncate(at);
            bytes.extend_from_slice(&other[from..]);
        }
        // Random from the first byte (sometimes with our magic).
        _ => {
            bytes.clear();
            if rng.bool() {
                bytes.extend_from_slice(b"CT\x02\x00");
            }
            bytes.extend((0..rng.usize(0..120)).map(|_| rng.u8(..)));
        }
    }
}

#[test]
fn a_million_random_and_mutated_envelopes_never_panic_lie_or_overallocate() {
    let seeds = seeds();
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut decoded = 0;
    let mut bytes = Vec::new();
    for case in 0..CASES {
        let seed = &seeds[case % seeds.len()];
        bytes.clear();
        bytes.extend_from_slice(&seed.bytes);
        // Each case is the seed itself, or one to three mutations of it.
        if case >= seeds.len() {
            for _ in 0..rng.usize(1..=3) {
                let other = &seeds[rng.usize(0..seeds.len())].bytes;
                mutate(&mut rng, &mut bytes, other);
            }
            // Keep under the 4 KiB scratch space (see the module docs).
            bytes.truncate(4000);
        }
        decoded += (seed.check)(&bytes, &seed.versions, case);
    }
    // Not a vacuous pass: the seeds, and mutations that only touched the
    // stamp, the time or trailing bytes, still decode.
    assert!(decoded > seeds.len(), "{decoded} envelopes decoded");
}

#[test]
fn long_strings_allocate_at_most_twice_what_they_hold() {
    for len in [4097, 10_000, 100_000] {
        let entry = encode(false, &[1], FreshUntil::ALWAYS, &"y".repeat(len)).unwrap();
        let bytes = entry.as_bytes().unwrap();
        let (value, largest) = largest_allocation(|| decode::<String>(&entry, &[1]));
        assert_eq!(value.map(|value| value.len()), Some(len));
        assert!(largest <= 2 * bytes.len(), "{largest} for {}", bytes.len());
        // Claimed longer than it is: a miss, allocating nothing beyond the envelope.
        let mut cut = bytes.to_vec();
        cut.truncate(bytes.len() - 1);
        let (value, largest) =
            largest_allocation(|| decode::<String>(&Value::from(cut.clone()), &[1]));
        assert_eq!(value, None);
        assert!(
            largest <= cut.len() + ERROR_TEXT,
            "{largest} for {}",
            cut.len()
        );
    }
}
