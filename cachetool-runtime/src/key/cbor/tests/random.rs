//! Random values of every serde shape against ciborium.

use super::*;

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
