//! An entry's CBOR value shown as JSON, in the forms `--args` reads back:
//! `{"$map": [[key, value], ...]}` for maps with keys other than strings,
//! `{"$bytes": "hex"}` for byte strings.

use ciborium::value::{Integer, Value as Cbor};
use serde_json::{json, Value as Json};

/// The JSON of a CBOR item.
pub(crate) fn to_json(value: &Cbor) -> Json {
    match value {
        Cbor::Null => Json::Null,
        Cbor::Bool(value) => Json::Bool(*value),
        Cbor::Integer(integer) => integer_json(*integer),
        Cbor::Float(value) => match serde_json::Number::from_f64(*value) {
            Some(number) => Json::Number(number),
            // NaN and infinities, which JSON lacks.
            None => Json::String(value.to_string()),
        },
        Cbor::Text(text) => Json::String(text.clone()),
        Cbor::Bytes(bytes) => json!({ "$bytes": hex(bytes) }),
        Cbor::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Cbor::Map(entries) => {
            let texts: Option<serde_json::Map<String, Json>> = entries
                .iter()
                .map(|(key, value)| Some((key.as_text()?.to_owned(), to_json(value))))
                .collect();
            match texts {
                Some(object) if object.len() == entries.len() => Json::Object(object),
                _ => json!({
                    "$map": entries
                        .iter()
                        .map(|(key, value)| json!([to_json(key), to_json(value)]))
                        .collect::<Vec<_>>()
                }),
            }
        }
        Cbor::Tag(tag, inner) => match bignum(*tag, inner) {
            Some(text) => Json::String(text),
            None => json!({ "$tag": tag, "value": to_json(inner) }),
        },
        _ => Json::String(format!("{value:?}")),
    }
}

fn integer_json(integer: Integer) -> Json {
    let wide = i128::from(integer);
    if let Ok(value) = u64::try_from(wide) {
        Json::from(value)
    } else if let Ok(value) = i64::try_from(wide) {
        Json::from(value)
    } else {
        Json::String(wide.to_string())
    }
}

/// An integer beyond 64 bits (RFC 8949 bignum tags 2 and 3, as serde's
/// `u128` and `i128` are written) as decimal text.
fn bignum(tag: u64, inner: &Cbor) -> Option<String> {
    let Cbor::Bytes(bytes) = inner else {
        return None;
    };
    if bytes.len() > 16 {
        return None;
    }
    let magnitude = bytes
        .iter()
        .fold(0u128, |value, &byte| value << 8 | u128::from(byte));
    match tag {
        2 => Some(magnitude.to_string()),
        // -1 - n, which for n up to u128::MAX needs 129 bits: written out by hand.
        3 => Some(match magnitude.checked_add(1) {
            Some(plus_one) => format!("-{plus_one}"),
            None => "-340282366920938463463374607431768211456".to_owned(),
        }),
        _ => None,
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn through_cbor<T: serde::Serialize>(value: &T) -> Json {
        let mut bytes = Vec::new();
        ciborium::into_writer(value, &mut bytes).unwrap();
        to_json(&ciborium::from_reader(&bytes[..]).unwrap())
    }

    #[derive(serde::Serialize)]
    struct User {
        id: u64,
        name: String,
        scores: Vec<f64>,
    }

    #[test]
    fn values_read_as_the_json_they_would_serialize_to() {
        let user = User {
            id: 7,
            name: "Ada".into(),
            scores: vec![1.5, -2.0],
        };
        assert_eq!(
            through_cbor(&user),
            json!({"id": 7, "name": "Ada", "scores": [1.5, -2.0]})
        );
        assert_eq!(through_cbor(&Some(-3i64)), json!(-3));
        assert_eq!(through_cbor(&None::<u8>), Json::Null);
        assert_eq!(through_cbor(&u64::MAX), json!(u64::MAX));
        assert_eq!(
            through_cbor(&(u64::MAX as u128 + 1)),
            json!("18446744073709551616"),
            "integers beyond 64 bits as text"
        );
        assert_eq!(through_cbor(&i128::MIN), json!(i128::MIN.to_string()));
        assert_eq!(
            through_cbor(&BTreeMap::from([(1u8, "a")])),
            json!({"$map": [[1, "a"]]})
        );
        assert_eq!(through_cbor(&f64::NAN), json!("NaN"));
    }
}
