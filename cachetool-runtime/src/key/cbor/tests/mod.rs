//! The fast encoder against ciborium: same bytes (or a decline), same map
//! verdict, and `KeyArgs` giving the key part it gave before.

use std::collections::{BTreeMap, HashMap};

use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::*;
use crate::key::canonical::has_map;
use crate::key::{hash_encoding, KeyArgs, KeyPart};

fn ciborium_bytes<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).expect("the corpus serializes");
    bytes
}

/// Checks `value` both ways and returns what the fast encoder did: its bytes
/// are ciborium's and its map flag is the map search's verdict, unless it
/// declined; and `write`, decline or not, leaves ciborium's bytes.
fn check<T: Serialize + ?Sized>(value: &T) -> Encoded {
    let expected = ciborium_bytes(value);
    let mut buffer = KeyBuffer::new();
    let encoded = encode(value, &mut buffer);
    match &encoded {
        Encoded::NoMap | Encoded::Map => {
            assert_eq!(buffer.as_bytes(), expected, "bytes differ from ciborium's");
            assert_eq!(
                encoded == Encoded::Map,
                has_map(&expected),
                "map flag is wrong for {expected:02x?}"
            );
        }
        Encoded::Declined => {}
        Encoded::Failed(message) => panic!("unexpected failure {message}"),
    }
    // After a prefix, as for an argument that is not the first.
    let mut buffer = KeyBuffer::new();
    buffer.extend_from_slice(&[0x82, 0x01]);
    let written = write(value, &mut buffer);
    assert_eq!(&buffer.as_bytes()[..2], [0x82, 0x01]);
    assert_eq!(
        buffer.as_bytes()[2..],
        expected,
        "write() differs from ciborium"
    );
    match written {
        Written::NoMap => assert!(!has_map(&expected)),
        Written::MaybeMap => assert!(encoded != Encoded::NoMap),
        Written::Failed(message) => panic!("unexpected failure {message}"),
    }
    encoded
}

/// `value` must go through the fast path.
fn fast<T: Serialize + ?Sized>(value: &T) {
    let encoded = check(value);
    assert_ne!(
        encoded,
        Encoded::Declined,
        "declined {:02x?}",
        ciborium_bytes(value)
    );
}

/// A float takes the fast path unless it is NaN.
fn float(v: f64) {
    if v.is_nan() {
        declined(&v);
    } else {
        fast(&v);
    }
}

/// `value` must be declined (and still encode as ciborium does).
fn declined<T: Serialize + ?Sized>(value: &T) {
    assert_eq!(check(value), Encoded::Declined);
}

/// The key part as `KeyArgs` computed it before the fast encoder: ciborium
/// over the tuple of arguments (the same bytes as one argument after the
/// other), then the map search.
fn reference_part<T: Serialize>(args: &T) -> KeyPart {
    let mut encoding = Vec::new();
    match ciborium::into_writer(args, &mut encoding) {
        Ok(()) => hash_encoding(&encoding),
        Err(error) => KeyPart::Unkeyable(error.to_string()),
    }
}

/// Each value as the only argument, and between two others.
fn same_key_part<T: Serialize + ?Sized>(value: &T) {
    assert_eq!(
        KeyArgs::new(1).arg(value).finish(),
        reference_part(&(value,))
    );
    assert_eq!(
        KeyArgs::new(3).arg(&7u64).arg(value).arg("tail").finish(),
        reference_part(&(7u64, value, "tail"))
    );
}

/// Both checks on every value of a corpus.
fn fast_and_same_key<T: Serialize + ?Sized>(value: &T) {
    fast(value);
    same_key_part(value);
}

fn declined_and_same_key<T: Serialize + ?Sized>(value: &T) {
    declined(value);
    same_key_part(value);
}

/// Serializes as CBOR bytes (a `Vec<u8>` is an array of integers in serde).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// A sequence or map that does not tell its length up front.
struct Unsized<T>(T);

impl Serialize for Unsized<Vec<u32>> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for item in &self.0 {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

impl Serialize for Unsized<BTreeMap<String, u32>> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct Unit;

#[derive(Serialize)]
struct Newtype(u64);

#[derive(Serialize)]
struct Pair(i32, String);

#[derive(Serialize)]
struct Point {
    x: f64,
    y: f64,
    label: Option<String>,
}

#[derive(Serialize)]
enum Shape {
    Empty,
    Circle(f32),
    Line(i8, i8),
    Rect { width: u16, height: u16 },
}

const U64_EDGES: [u64; 12] = [
    0,
    1,
    23,
    24,
    255,
    256,
    65535,
    65536,
    u32::MAX as u64,
    u32::MAX as u64 + 1,
    u64::MAX - 1,
    u64::MAX,
];

const I64_EDGES: [i64; 14] = [
    0,
    -1,
    -23,
    -24,
    -25,
    -256,
    -257,
    -65536,
    -65537,
    i32::MIN as i64,
    -(u32::MAX as i64) - 1,
    -(u32::MAX as i64) - 2,
    i64::MIN,
    i64::MAX,
];

const LENGTH_EDGES: [usize; 10] = [0, 1, 23, 24, 255, 256, 65535, 65536, 63, 64];

mod failing;
mod random;
mod scalars;
