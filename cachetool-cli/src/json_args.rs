//! `--args`: key arguments written as JSON, serialized exactly as the Rust
//! values they stand for, so that the key built from them is the macro's.
//!
//! serde's data model makes most of this direct: the key's CBOR writes every
//! integer type the same way (by value, shortest form), every float in the
//! narrowest width that holds it, a struct as a map of its field names, a
//! unit variant as its name, `None` and `()` as null; and maps are sorted
//! before hashing. What JSON can't say is refused, never guessed:
//!
//! - integers beyond 64 bits (`u128`, `i128`);
//! - NaN and infinities;
//! - map keys that are not strings: an object key that reads as a number,
//!   `true`, `false` or `null` could be either, so it is refused, and such
//!   maps are written `{"$map": [[key, value], ...]}` (any JSON as keys);
//! - byte strings (`serde_bytes`, `bytes::Bytes`): `{"$bytes": "hex"}`.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;

/// One argument, as the Rust value it stands for serializes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// `None`, `()`, a unit struct.
    Null,
    Bool(bool),
    /// A non-negative integer of any Rust integer type.
    Unsigned(u64),
    /// A negative integer.
    Signed(i64),
    /// An `f64` (or an `f32`, written as the f64 it converts to).
    Float(f64),
    /// A `String`, `&str`, `char`, or an enum's unit variant.
    Text(String),
    /// A byte string (`{"$bytes": "hex"}`).
    Bytes(Vec<u8>),
    /// A `Vec`, slice, array, tuple or set.
    Seq(Vec<Arg>),
    /// A map, struct or enum variant with data.
    Map(Vec<(Arg, Arg)>),
}

/// The arguments of `--args`, which must be a JSON array.
pub(crate) fn parse(json: &str) -> Result<Vec<Arg>, String> {
    check_integer_widths(json)?;
    match serde_json::from_str::<Arg>(json) {
        Ok(Arg::Seq(args)) => Ok(args),
        Ok(_) => Err(format!(
            "--args must be a JSON array of the key arguments, in order (`[7]` for one argument), not {json}"
        )),
        Err(error) => Err(format!("--args is not JSON that can be a key: {error}")),
    }
}

/// Refuses integers beyond 64 bits, which the JSON parser would make floats.
fn check_integer_widths(json: &str) -> Result<(), String> {
    let bytes = json.as_bytes();
    let mut at = 0;
    let mut in_string = false;
    while at < bytes.len() {
        let byte = bytes[at];
        if in_string {
            match byte {
                b'\\' => at += 1,
                b'"' => in_string = false,
                _ => {}
            }
            at += 1;
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'-' | b'0'..=b'9' => {
                let start = at;
                while at < bytes.len()
                    && matches!(bytes[at], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    at += 1;
                }
                let token = &json[start..at];
                let integer = !token.contains(['.', 'e', 'E']);
                if integer && token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
                    return Err(format!(
                        "the integer {token} is beyond 64 bits: a u128 or i128 key argument can't be given in JSON"
                    ));
                }
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    Ok(())
}

impl Serialize for Arg {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Arg::Null => serializer.serialize_none(),
            Arg::Bool(value) => serializer.serialize_bool(*value),
            Arg::Unsigned(value) => serializer.serialize_u64(*value),
            Arg::Signed(value) => serializer.serialize_i64(*value),
            Arg::Float(value) => serializer.serialize_f64(*value),
            Arg::Text(text) => serializer.serialize_str(text),
            Arg::Bytes(bytes) => serializer.serialize_bytes(bytes),
            Arg::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Arg::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Arg {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Arg, D::Error> {
        deserializer.deserialize_any(ArgVisitor)
    }
}

struct ArgVisitor;

impl<'de> Visitor<'de> for ArgVisitor {
    type Value = Arg;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Arg, E> {
        Ok(Arg::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Arg, E> {
        Ok(Arg::Bool(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Arg, E> {
        Ok(Arg::Unsigned(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Arg, E> {
        Ok(match u64::try_from(value) {
            Ok(value) => Arg::Unsigned(value),
            Err(_) => Arg::Signed(value),
        })
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Arg, E> {
        match value.is_finite() {
            true => Ok(Arg::Float(value)),
            false => Err(E::custom("NaN and infinities can't be given in JSON")),
        }
    }

    fn visit_str<E>(self, text: &str) -> Result<Arg, E> {
        Ok(Arg::Text(text.to_owned()))
    }

    fn visit_string<E>(self, text: String) -> Result<Arg, E> {
        Ok(Arg::Text(text))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Arg, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Arg::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Arg, A::Error> {
        let mut entries: Vec<(String, Arg)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Arg>()? {
            if entries.iter().any(|(seen, _)| *seen == key) {
                return Err(de::Error::custom(format!(
                    "the object key {key:?} appears twice"
                )));
            }
            entries.push((key, value));
        }
        object(entries).map_err(de::Error::custom)
    }
}

/// A JSON object as an argument: `$map` and `$bytes` forms, or a map of
/// string keys (a struct, a `HashMap<String, _>`).
fn object(mut entries: Vec<(String, Arg)>) -> Result<Arg, String> {
    if let [(key, _)] = entries.as_slice() {
        match key.as_str() {
            "$map" => return map_form(entries.pop().unwrap().1),
            "$bytes" => return bytes_form(entries.pop().unwrap().1),
            _ => {}
        }
    }
    let mut map = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        if serde_json::from_str::<serde_json::Value>(&key).is_ok_and(|read| !read.is_string()) {
            return Err(format!(
                "the object key {key:?} could stand for the string {key:?} or for the \
                 non-string key {key} (a map with number keys): write the map as \
                 {{\"$map\": [[key, value], ...]}} with the key as it is, \"{key}\" or {key}"
            ));
        }
        map.push((Arg::Text(key), value));
    }
    Ok(Arg::Map(map))
}

/// `{"$map": [[key, value], ...]}`: a map with keys of any kind.
fn map_form(pairs: Arg) -> Result<Arg, String> {
    let malformed = || "\"$map\" takes an array of [key, value] pairs".to_owned();
    let Arg::Seq(pairs) = pairs else {
        return Err(malformed());
    };
    pairs
        .into_iter()
        .map(|pair| match pair {
            Arg::Seq(pair) if pair.len() == 2 => {
                let mut pair = pair.into_iter();
                Ok((pair.next().unwrap(), pair.next().unwrap()))
            }
            _ => Err(malformed()),
        })
        .collect::<Result<_, _>>()
        .map(Arg::Map)
}

/// `{"$bytes": "00ff..."}`: a byte string, in hex.
fn bytes_form(hex: Arg) -> Result<Arg, String> {
    let malformed = || "\"$bytes\" takes a string of hex digits, two per byte".to_owned();
    let Arg::Text(hex) = hex else {
        return Err(malformed());
    };
    if hex.len() % 2 != 0 {
        return Err(malformed());
    }
    (0..hex.len())
        .step_by(2)
        .map(|at| {
            hex.get(at..at + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(malformed)
        })
        .collect::<Result<_, _>>()
        .map(Arg::Bytes)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use cachetool_runtime::admin::entry_key;
    use serde::Serialize;

    use super::*;

    /// The key of one argument given as JSON, and as the Rust value.
    fn same_key<T: Serialize>(json: &str, value: T) {
        let args = parse(&format!("[{json}]")).unwrap_or_else(|error| panic!("{json}: {error}"));
        let from_json = entry_key("p", "f", &args).unwrap();
        let from_rust = entry_key("p", "f", &[value]).unwrap();
        assert_eq!(from_json, from_rust, "{json}");
    }

    #[derive(Serialize)]
    struct Point {
        x: f64,
        y: i32,
        label: Option<String>,
    }

    #[derive(Serialize)]
    enum Shape {
        Empty,
        Circle(f64),
        Rect { w: u32, h: u32 },
        Pair(u8, u8),
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Meters(u16);

    struct Raw(Vec<u8>);
    impl Serialize for Raw {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(&self.0)
        }
    }

    #[test]
    fn integers_of_every_width_key_as_json_integers() {
        same_key("7", 7u8);
        same_key("7", 7i64);
        same_key("300", 300u16);
        same_key("-5", -5i32);
        same_key("-129", -129i16);
        same_key("18446744073709551615", u64::MAX);
        same_key("-9223372036854775808", i64::MIN);
        same_key("0", 0usize);
        same_key("42", Meters(42));
    }

    #[test]
    fn floats_key_as_the_f64_written() {
        same_key("1.5", 1.5f64);
        same_key("0.1", 0.1f64);
        same_key("-0.0", -0.0f64);
        same_key("1e300", 1e300f64);
        same_key("2.2250738585072014e-308", f64::MIN_POSITIVE);
        same_key("0.30000000000000004", 0.1f64 + 0.2);
        same_key("0.5", 0.5f32);
        // An f32 is keyed as the f64 it converts to.
        same_key("0.10000000149011612", 0.1f32);
        same_key("123456.789", 123456.789f64);
    }

    #[test]
    fn strings_bools_null_and_unit_key_as_in_rust() {
        same_key("\"user:7\"", "user:7");
        same_key("\"é\\n\\u0000\"", "é\n\0".to_string());
        same_key("\"x\"", 'x');
        same_key("true", true);
        same_key("false", false);
        same_key("null", None::<u32>);
        same_key("3", Some(3u32));
        same_key("null", ());
        same_key("null", Unit);
        same_key("{\"$bytes\": \"00ff10\"}", Raw(vec![0, 255, 16]));
    }

    #[test]
    fn sequences_and_tuples_key_as_arrays() {
        same_key("[1, 2, 3]", vec![1u32, 2, 3]);
        same_key("[]", Vec::<String>::new());
        same_key("[[1], [-2, 3]]", vec![vec![1i8], vec![-2, 3]]);
        same_key("[1, \"a\", true]", (1u8, "a", true));
        same_key("[1, 2]", [1u64, 2]);
        same_key("[1, 2, 3]", BTreeSet::from([3u8, 1, 2]));
    }

    #[test]
    fn maps_and_structs_key_whatever_their_order() {
        let map: HashMap<String, u32> = (0..20).map(|i| (format!("k{i}"), i)).collect();
        let json: Vec<String> = (0..20).rev().map(|i| format!("\"k{i}\": {i}")).collect();
        same_key(&format!("{{{}}}", json.join(", ")), map);
        same_key(
            "{\"b\": 1, \"a\": 2}",
            BTreeMap::from([("a", 2u8), ("b", 1)]),
        );
        same_key(
            "{\"y\": -3, \"label\": null, \"x\": 0.25}",
            Point {
                x: 0.25,
                y: -3,
                label: None,
            },
        );
        same_key(
            "[{\"k\": [1.5]}]",
            vec![HashMap::from([("k", vec![1.5f64])])],
        );
        same_key(
            "{\"$map\": [[7, \"seven\"], [1, \"one\"]]}",
            HashMap::from([(1u64, "one"), (7, "seven")]),
        );
        same_key(
            "{\"$map\": [[\"7\", 1]]}",
            HashMap::from([("7".to_string(), 1u8)]),
        );
        same_key(
            "{\"$map\": [[[1, 2], true]]}",
            BTreeMap::from([((1u8, 2u8), true)]),
        );
    }

    #[test]
    fn enums_key_as_serde_writes_them() {
        same_key("\"Empty\"", Shape::Empty);
        same_key("{\"Circle\": 2.5}", Shape::Circle(2.5));
        same_key(
            "{\"Rect\": {\"h\": 2, \"w\": 1}}",
            Shape::Rect { w: 1, h: 2 },
        );
        same_key("{\"Pair\": [1, 2]}", Shape::Pair(1, 2));
    }

    #[test]
    fn several_arguments_key_as_the_macro_keys_them() {
        let args = parse("[7, \"en\", [1.5]]").unwrap();
        let from_json = entry_key("p", "f", &args).unwrap();
        let part = cachetool_runtime::__private::key_args(3)
            .arg(&7u32)
            .arg("en")
            .arg(&vec![1.5f64])
            .finish();
        assert_eq!(from_json, format!("p:entry:f:{part}"));
    }

    #[test]
    fn what_json_cannot_say_is_refused() {
        let refused = |json: &str, why: &str| {
            let error = parse(json).expect_err(json);
            assert!(error.contains(why), "{json}: {error}");
        };
        refused("[18446744073709551616]", "beyond 64 bits");
        refused("[-9223372036854775809]", "beyond 64 bits");
        refused("[{\"a\": [100000000000000000000000]}]", "beyond 64 bits");
        refused("[1e400]", "not JSON that can be a key");
        refused("[{\"7\": \"seven\"}]", "could stand for the string \"7\"");
        refused("[{\"true\": 1}]", "could stand for");
        refused("[{\"a\": 1, \"a\": 2}]", "appears twice");
        refused("[{\"$map\": 3}]", "[key, value] pairs");
        refused("[{\"$map\": [[1, 2, 3]]}]", "[key, value] pairs");
        refused("[{\"$bytes\": \"abc\"}]", "hex digits");
        refused("7", "must be a JSON array");
        refused("[1, ", "not JSON");
        // Digits in strings are text, not integers.
        assert!(parse("[\"100000000000000000000000\"]").is_ok());
        assert!(parse("[\"\\\"100000000000000000000000\"]").is_ok());
    }
}
