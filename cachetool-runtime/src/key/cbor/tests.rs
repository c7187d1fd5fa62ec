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

#[test]
fn integers_match_ciborium() {
    for v in U64_EDGES {
        fast_and_same_key(&v);
        fast(&(v as u8));
        fast(&(v as u16));
        fast(&(v as u32));
        fast(&u128::from(v));
        fast(&i128::from(v));
    }
    for v in I64_EDGES {
        fast_and_same_key(&v);
        fast(&(v as i8));
        fast(&(v as i16));
        fast(&(v as i32));
        fast(&i128::from(v));
    }
    let big = [
        u128::from(u64::MAX) + 1,
        u128::from(u64::MAX) << 8,
        u128::MAX >> 1,
        u128::MAX - 1,
        u128::MAX,
    ];
    for v in big {
        fast_and_same_key(&v);
        fast(&(v as i128));
        fast(&-(v as i128));
    }
    for v in [
        i128::MIN,
        i128::MIN + 1,
        i128::MAX,
        -i128::from(u64::MAX),
        -i128::from(u64::MAX) - 1,
        -i128::from(u64::MAX) - 2,
        i128::from(i64::MIN),
        i128::from(i64::MIN) - 1,
    ] {
        fast_and_same_key(&v);
    }
}

#[test]
fn floats_match_ciborium() {
    let doubles = [
        0.0,
        -0.0,
        1.0,
        1.5,
        -2.5,
        0.1,
        1e300,
        -1e-300,
        65504.0,
        65505.0,
        65520.0,
        f64::from(f32::MAX),
        f64::from(f32::MIN_POSITIVE),
        f64::from(f32::MIN_POSITIVE) / 2.0,
        f64::MIN_POSITIVE,
        f64::MIN_POSITIVE / 2.0,
        5e-324,
        2f64.powi(-24),
        2f64.powi(-25),
        3.0 * 2f64.powi(-24),
        2f64.powi(-14),
        2f64.powi(-14) * 1.5,
        f64::MAX,
        f64::EPSILON,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    for v in doubles {
        fast_and_same_key(&v);
        fast(&(v as f32));
        fast(&-v);
        float(f64::from_bits(v.to_bits() + 1));
    }
    for v in [f32::MIN_POSITIVE / 4.0, f32::from_bits(1), 1.1f32, f32::MAX] {
        fast_and_same_key(&v);
    }
    // Every f16 value, as ciborium itself decodes it, and its neighbours.
    for bits in 0..=u16::MAX {
        let [high, low] = bits.to_be_bytes();
        let v: f64 = ciborium::from_reader(&[0xf9, high, low][..]).unwrap();
        if v.is_nan() {
            declined(&v);
            continue;
        }
        assert_eq!(ciborium_bytes(&v), [0xf9, high, low]);
        fast(&v);
        for flipped in [1, 1 << 29, 1 << 41, 1 << 42] {
            float(f64::from_bits(v.to_bits() ^ flipped));
        }
    }
}

#[test]
fn nan_is_declined_and_keyed_as_before() {
    for v in [
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0001),
        f64::from_bits(0x7ff8_0000_0000_0001),
        f64::from_bits(0xfff4_0000_0000_0000),
    ] {
        declined_and_same_key(&v);
        declined_and_same_key(&(v as f32));
        declined_and_same_key(&(1u8, vec![0.5, v]));
    }
    declined(&f32::from_bits(0x7fc0_0001));
}

#[test]
fn text_and_bytes_match_ciborium() {
    for length in LENGTH_EDGES {
        let text = "x".repeat(length);
        fast_and_same_key(&text);
        fast_and_same_key(&Bytes(text.as_bytes()));
    }
    for text in ["é", "日本語", "🦀 crab", "\0", "a\u{10FFFF}"] {
        fast_and_same_key(text);
    }
    for c in ['a', '\0', 'é', '€', '🦀', char::MAX] {
        fast_and_same_key(&c);
    }
    // Keys around the inline room of the buffer, which spill to the heap.
    for length in 50..80 {
        fast_and_same_key(&(1u64, "y".repeat(length), 2u8));
    }
}

#[test]
fn every_serde_shape_matches_ciborium() {
    fast_and_same_key(&true);
    fast_and_same_key(&false);
    fast_and_same_key(&());
    fast_and_same_key(&Unit);
    fast_and_same_key(&None::<u8>);
    fast_and_same_key(&Some(5u8));
    fast_and_same_key(&Some(None::<u8>));
    fast_and_same_key(&Newtype(300));
    fast_and_same_key(&Pair(-3, "pair".into()));
    fast_and_same_key(&Point {
        x: 1.0,
        y: -0.5,
        label: Some("p".into()),
    });
    fast_and_same_key(&Shape::Empty);
    fast_and_same_key(&Shape::Circle(2.5));
    fast_and_same_key(&Shape::Line(-1, 1));
    fast_and_same_key(&Shape::Rect {
        width: 3,
        height: 400,
    });
    fast_and_same_key(&vec![Shape::Empty, Shape::Circle(0.0)]);
    fast_and_same_key(&Unsized(vec![1, 2, 3]));
    fast_and_same_key(&Unsized(Vec::new()));
    let btree: BTreeMap<String, u32> = (0..30).map(|i| (format!("k{i}"), i)).collect();
    fast_and_same_key(&Unsized(btree.clone()));
    fast_and_same_key(&btree);
    fast_and_same_key(&BTreeMap::<u8, u8>::new());
    let hash: HashMap<u64, Vec<String>> = (0..40).map(|i| (i, vec![i.to_string()])).collect();
    fast_and_same_key(&hash);
    fast_and_same_key(&(1u8, ("nested", [1u16, 2, 3], vec![vec![(); 2]; 3])));
    fast_and_same_key(&((), ((), ((),))));
    for length in LENGTH_EDGES {
        fast_and_same_key(&vec![0u8; length]);
    }
    fast_and_same_key(&vec![Some(1u8); 24]);
    fast_and_same_key(&[Some(btree), None]);
}

#[test]
fn ciborium_tags_are_declined_and_keyed_as_before() {
    use ciborium::tag::{Accepted, Captured, Required};
    use ciborium::value::Value;
    declined_and_same_key(&Required::<u64, 32>(1));
    declined_and_same_key(&Accepted::<u64, 32>(1));
    declined_and_same_key(&Captured(Some(7), 1u8));
    declined_and_same_key(&Captured(None, 1u8));
    declined_and_same_key(&Value::Tag(5, Box::new(Value::Integer(1.into()))));
    fast_and_same_key(&Value::Array(vec![Value::Integer(1.into()), Value::Null]));
    fast_and_same_key(&Value::Map(vec![(Value::Bool(true), Value::Float(0.5))]));
}

/// Fails to serialize, as a user's `Serialize` may.
struct Refuses;

impl Serialize for Refuses {
    fn serialize<S: Serializer>(&self, _serializer: S) -> Result<S::Ok, S::Error> {
        Err(S::Error::custom("no key for you"))
    }
}

#[test]
fn a_failing_serialize_is_unkeyable_with_ciboriums_message() {
    let part = KeyArgs::new(2).arg(&1u8).arg(&vec![Refuses]).finish();
    assert_eq!(part, KeyPart::Unkeyable("Value(\"no key for you\")".into()));
    assert_eq!(part, reference_part(&(1u8, vec![Refuses])));
    // Failing after a decline (NaN) goes through ciborium, same message.
    assert_eq!(
        KeyArgs::new(1).arg(&(f64::NAN, Refuses)).finish(),
        reference_part(&((f64::NAN, Refuses),))
    );
    // The first failure wins; later arguments are not looked at.
    assert_eq!(
        KeyArgs::new(3)
            .arg(&Refuses)
            .arg(&f64::NAN)
            .arg(&Refuses)
            .finish(),
        reference_part(&(Refuses, f64::NAN, Refuses))
    );
    let mut buffer = KeyBuffer::new();
    assert_eq!(
        write(&Some(Refuses), &mut buffer),
        Written::Failed("Value(\"no key for you\")".into())
    );
}

/// Announces `announced` items and writes `items`; swallows its items' errors.
struct Careless {
    announced: Option<usize>,
    items: Vec<f64>,
}

impl Serialize for Careless {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(self.announced)?;
        for item in &self.items {
            let _ = seq.serialize_element(item);
        }
        seq.end()
    }
}

#[test]
fn miscounted_or_swallowing_serialize_is_keyed_as_before() {
    for (announced, items) in [
        (Some(3), vec![1.0, 2.0]),
        (Some(1), vec![1.0, 2.0]),
        (Some(0), vec![1.0]),
        (Some(2), vec![f64::NAN, 2.0]),
        (None, vec![f64::NAN, 2.0]),
    ] {
        let careless = Careless { announced, items };
        declined(&careless);
        for last in [0u8, 1] {
            assert_eq!(
                KeyArgs::new(2).arg(&careless).arg(&last).finish(),
                reference_part(&(&careless, last)),
            );
        }
    }
}

#[test]
fn a_wrong_argument_count_is_keyed_as_before() {
    let map = BTreeMap::from([(2u8, 3u8)]);
    // Before: the header of `count`, then each argument's ciborium bytes.
    let old =
        |count: u8, args: &[&[u8]]| hash_encoding(&[&[0x80 | count][..], &args.concat()].concat());
    let one = ciborium_bytes(&1u8);
    let with_map = ciborium_bytes(&map);
    assert_eq!(
        KeyArgs::new(1).arg(&1u8).arg(&map).finish(),
        old(1, &[&one, &with_map])
    );
    assert_eq!(
        KeyArgs::new(1).arg(&1u8).arg(&1u8).finish(),
        old(1, &[&one, &one])
    );
    assert_eq!(KeyArgs::new(3).arg(&1u8).finish(), old(3, &[&one]));
}

/// A value of any serde shape, generated at random.
#[derive(Debug, Clone)]
enum Node {
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    I128(i128),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    U128(u128),
    F32(f32),
    F64(f64),
    Char(char),
    Str(String),
    Bytes(Vec<u8>),
    Unit,
    UnitStruct,
    UnitVariant(usize),
    None,
    Some(Box<Node>),
    NewtypeStruct(Box<Node>),
    NewtypeVariant(usize, Box<Node>),
    Seq(Vec<Node>),
    UnsizedSeq(Vec<Node>),
    Tuple(Vec<Node>),
    TupleStruct(Vec<Node>),
    TupleVariant(usize, Vec<Node>),
    Map(Vec<(Node, Node)>),
    UnsizedMap(Vec<(Node, Node)>),
    Struct(Vec<Node>),
    StructVariant(usize, Vec<Node>),
}

const NAMES: [&str; 6] = ["a", "id", "name", "", "long_field_name_over_23_bytes", "é"];

impl Node {
    fn holds_nan(&self) -> bool {
        match self {
            Node::F32(v) => v.is_nan(),
            Node::F64(v) => v.is_nan(),
            Node::Some(inner) | Node::NewtypeStruct(inner) | Node::NewtypeVariant(_, inner) => {
                inner.holds_nan()
            }
            Node::Seq(items)
            | Node::UnsizedSeq(items)
            | Node::Tuple(items)
            | Node::TupleStruct(items)
            | Node::TupleVariant(_, items)
            | Node::Struct(items)
            | Node::StructVariant(_, items) => items.iter().any(Node::holds_nan),
            Node::Map(entries) | Node::UnsizedMap(entries) => entries
                .iter()
                .any(|(key, value)| key.holds_nan() || value.holds_nan()),
            _ => false,
        }
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{
            SerializeStruct, SerializeStructVariant, SerializeTuple, SerializeTupleStruct,
            SerializeTupleVariant,
        };
        match self {
            Node::Bool(v) => serializer.serialize_bool(*v),
            Node::I8(v) => serializer.serialize_i8(*v),
            Node::I16(v) => serializer.serialize_i16(*v),
            Node::I32(v) => serializer.serialize_i32(*v),
            Node::I64(v) => serializer.serialize_i64(*v),
            Node::I128(v) => serializer.serialize_i128(*v),
            Node::U8(v) => serializer.serialize_u8(*v),
            Node::U16(v) => serializer.serialize_u16(*v),
            Node::U32(v) => serializer.serialize_u32(*v),
            Node::U64(v) => serializer.serialize_u64(*v),
            Node::U128(v) => serializer.serialize_u128(*v),
            Node::F32(v) => serializer.serialize_f32(*v),
            Node::F64(v) => serializer.serialize_f64(*v),
            Node::Char(v) => serializer.serialize_char(*v),
            Node::Str(v) => serializer.serialize_str(v),
            Node::Bytes(v) => serializer.serialize_bytes(v),
            Node::Unit => serializer.serialize_unit(),
            Node::UnitStruct => serializer.serialize_unit_struct("UnitStruct"),
            Node::UnitVariant(name) => serializer.serialize_unit_variant("E", 0, NAMES[*name]),
            Node::None => serializer.serialize_none(),
            Node::Some(inner) => serializer.serialize_some(inner),
            Node::NewtypeStruct(inner) => serializer.serialize_newtype_struct("N", inner),
            Node::NewtypeVariant(name, inner) => {
                serializer.serialize_newtype_variant("E", 1, NAMES[*name], inner)
            }
            Node::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                items
                    .iter()
                    .try_for_each(|item| seq.serialize_element(item))?;
                seq.end()
            }
            Node::UnsizedSeq(items) => {
                let mut seq = serializer.serialize_seq(None)?;
                items
                    .iter()
                    .try_for_each(|item| seq.serialize_element(item))?;
                seq.end()
            }
            Node::Tuple(items) => {
                let mut tuple = serializer.serialize_tuple(items.len())?;
                items
                    .iter()
                    .try_for_each(|item| tuple.serialize_element(item))?;
                tuple.end()
            }
            Node::TupleStruct(items) => {
                let mut tuple = serializer.serialize_tuple_struct("T", items.len())?;
                items
                    .iter()
                    .try_for_each(|item| tuple.serialize_field(item))?;
                tuple.end()
            }
            Node::TupleVariant(name, items) => {
                let mut tuple =
                    serializer.serialize_tuple_variant("E", 2, NAMES[*name], items.len())?;
                items
                    .iter()
                    .try_for_each(|item| tuple.serialize_field(item))?;
                tuple.end()
            }
            Node::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Node::UnsizedMap(entries) => {
                let mut map = serializer.serialize_map(None)?;
                for (key, value) in entries {
                    map.serialize_key(key)?;
                    map.serialize_value(value)?;
                }
                map.end()
            }
            Node::Struct(fields) => {
                let mut object = serializer.serialize_struct("S", fields.len())?;
                for (index, field) in fields.iter().enumerate() {
                    object.serialize_field(NAMES[index % NAMES.len()], field)?;
                }
                object.end()
            }
            Node::StructVariant(name, fields) => {
                let mut object =
                    serializer.serialize_struct_variant("E", 3, NAMES[*name], fields.len())?;
                for (index, field) in fields.iter().enumerate() {
                    object.serialize_field(NAMES[index % NAMES.len()], field)?;
                }
                object.end()
            }
        }
    }
}

/// Random values, biased to the edges where encodings change width.
struct Generator {
    rng: fastrand::Rng,
}

impl Generator {
    fn u64(&mut self) -> u64 {
        match self.rng.u8(0..3) {
            0 => U64_EDGES[self.rng.usize(..U64_EDGES.len())],
            1 => self.rng.u64(..) >> self.rng.u32(0..64),
            _ => self.rng.u64(..),
        }
    }

    fn i64(&mut self) -> i64 {
        match self.rng.u8(0..3) {
            0 => I64_EDGES[self.rng.usize(..I64_EDGES.len())],
            1 => self.rng.i64(..) >> self.rng.u32(0..64),
            _ => self.rng.i64(..),
        }
    }

    fn u128(&mut self) -> u128 {
        let wide = (u128::from(self.rng.u64(..)) << 64) | u128::from(self.rng.u64(..));
        wide >> self.rng.u32(0..128)
    }

    fn f64(&mut self) -> f64 {
        match self.rng.u8(0..5) {
            // Exact in f16, in f32 or only in f64, depending on the draw.
            0 => f64::from(self.rng.i32(-4096..4096)) * 2f64.powi(self.rng.i32(-40..40)),
            1 => f64::from(f32::from_bits(self.rng.u32(..))),
            2 => f64::from_bits(self.rng.u64(..)),
            3 => {
                [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1e300][self.rng.usize(..6)]
            }
            _ => self.rng.f64() * 1000.0,
        }
    }

    fn text(&mut self) -> String {
        let length = match self.rng.u8(0..4) {
            0 => [0, 1, 22, 23, 24, 25, 255, 256][self.rng.usize(..8)],
            _ => self.rng.usize(0..40),
        };
        (0..length)
            .map(|_| match self.rng.u8(0..4) {
                0 => self.rng.char(..),
                _ => self.rng.alphanumeric(),
            })
            .collect()
    }

    fn bytes(&mut self) -> Vec<u8> {
        let length = [0, 3, 23, 24, 100, 256][self.rng.usize(..6)];
        let mut bytes = vec![0; length];
        self.rng.fill(&mut bytes);
        bytes
    }

    fn children(&mut self, depth: u32) -> Vec<Node> {
        let count = match self.rng.u8(0..8) {
            0 => [23, 24, 25][self.rng.usize(..3)],
            _ => self.rng.usize(0..5),
        };
        (0..count).map(|_| self.node(depth - 1)).collect()
    }

    fn entries(&mut self, depth: u32) -> Vec<(Node, Node)> {
        let count = self.rng.usize(0..5);
        (0..count)
            .map(|_| (self.node(depth - 1), self.node(depth - 1)))
            .collect()
    }

    fn name(&mut self) -> usize {
        self.rng.usize(..NAMES.len())
    }

    fn node(&mut self, depth: u32) -> Node {
        const LEAVES: u8 = 20;
        const ALL: u8 = 32;
        let kind = self.rng.u8(0..if depth == 0 { LEAVES } else { ALL });
        match kind {
            0 => Node::Bool(self.rng.bool()),
            1 => Node::I8(self.i64() as i8),
            2 => Node::I16(self.i64() as i16),
            3 => Node::I32(self.i64() as i32),
            4 => Node::I64(self.i64()),
            5 => Node::I128(self.u128() as i128),
            6 => Node::U8(self.u64() as u8),
            7 => Node::U16(self.u64() as u16),
            8 => Node::U32(self.u64() as u32),
            9 => Node::U64(self.u64()),
            10 => Node::U128(self.u128()),
            11 => Node::F32(self.f64() as f32),
            12 => Node::F64(self.f64()),
            13 => Node::Char(self.rng.char(..)),
            14 => Node::Str(self.text()),
            15 => Node::Bytes(self.bytes()),
            16 => Node::Unit,
            17 => Node::UnitStruct,
            18 => Node::UnitVariant(self.name()),
            19 => Node::None,
            20 => Node::Some(Box::new(self.node(depth - 1))),
            21 => Node::NewtypeStruct(Box::new(self.node(depth - 1))),
            22 => Node::NewtypeVariant(self.name(), Box::new(self.node(depth - 1))),
            23 => Node::Seq(self.children(depth)),
            24 => Node::UnsizedSeq(self.children(depth)),
            25 => Node::Tuple(self.children(depth)),
            26 => Node::TupleStruct(self.children(depth)),
            27 => Node::TupleVariant(self.name(), self.children(depth)),
            28 => Node::Map(self.entries(depth)),
            29 => Node::UnsizedMap(self.entries(depth)),
            30 => Node::Struct(self.children(depth)),
            _ => Node::StructVariant(self.name(), self.children(depth)),
        }
    }
}

#[test]
fn random_values_match_ciborium() {
    let mut generator = Generator {
        rng: fastrand::Rng::with_seed(20_261_121),
    };
    let (mut maps, mut declines) = (0, 0);
    for _ in 0..5000 {
        let depth = generator.rng.u32(0..4);
        let node = generator.node(depth);
        let encoded = check(&node);
        assert_eq!(
            encoded == Encoded::Declined,
            node.holds_nan(),
            "declined exactly the values with NaN: {node:?}"
        );
        maps += usize::from(encoded == Encoded::Map);
        declines += usize::from(encoded == Encoded::Declined);
        let other = generator.node(1);
        assert_eq!(
            KeyArgs::new(2).arg(&node).arg(&other).finish(),
            reference_part(&(&node, &other)),
            "{node:?}, {other:?}"
        );
    }
    // The corpus exercises both verdicts and the decline.
    assert!(
        maps > 500 && declines > 20,
        "maps {maps}, declines {declines}"
    );
}
