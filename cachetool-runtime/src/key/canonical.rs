//! Canonical CBOR for keys: equal arguments must give equal bytes.
//!
//! serde writes a `HashMap` in its iteration order, which differs between two
//! equal maps. When the encoding holds a map, its entries are sorted by the
//! bytes of their encoded keys (RFC 8949, 4.2.1), recursively. Encodings
//! without maps, the usual case, are used as they are.

use ciborium::value::Value as Cbor;

/// Whether the CBOR item sequence `bytes` contains a map anywhere.
pub(crate) fn has_map(bytes: &[u8]) -> bool {
    let mut reader = Reader { bytes, at: 0 };
    // Malformed input can't come from ciborium; treat it as "maybe" to be safe.
    reader.item().unwrap_or(true)
}

/// `bytes` re-encoded with every map's entries in canonical order.
pub(crate) fn canonicalize(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let value: Cbor = ciborium::from_reader(bytes).map_err(|error| error.to_string())?;
    let value = sort_maps(value)?;
    let mut out = Vec::with_capacity(bytes.len());
    ciborium::into_writer(&value, &mut out).map_err(|error| error.to_string())?;
    Ok(out)
}

fn sort_maps(value: Cbor) -> Result<Cbor, String> {
    Ok(match value {
        Cbor::Array(items) => {
            Cbor::Array(items.into_iter().map(sort_maps).collect::<Result<_, _>>()?)
        }
        Cbor::Tag(tag, inner) => Cbor::Tag(tag, Box::new(sort_maps(*inner)?)),
        Cbor::Map(entries) => {
            let mut keyed = entries
                .into_iter()
                .map(|(key, value)| {
                    let key = sort_maps(key)?;
                    let mut encoded = Vec::new();
                    ciborium::into_writer(&key, &mut encoded).map_err(|error| error.to_string())?;
                    Ok((encoded, key, sort_maps(value)?))
                })
                .collect::<Result<Vec<_>, String>>()?;
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            Cbor::Map(
                keyed
                    .into_iter()
                    .map(|(_, key, value)| (key, value))
                    .collect(),
            )
        }
        other => other,
    })
}

/// Walks CBOR item headers without decoding, looking for maps (major type 5).
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

const BREAK: u8 = 0xff;

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    /// The argument of a header with additional information `info`; None for indefinite.
    fn argument(&mut self, info: u8) -> Option<Option<u64>> {
        let width = match info {
            0..=23 => return Some(Some(u64::from(info))),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 => return Some(None),
            _ => return None,
        };
        let slice = self.bytes.get(self.at..self.at + width)?;
        self.at += width;
        Some(Some(
            slice
                .iter()
                .fold(0u64, |acc, byte| acc << 8 | u64::from(*byte)),
        ))
    }

    /// Reads one item; Some(true) if it is or holds a map.
    fn item(&mut self) -> Option<bool> {
        let initial = self.byte()?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        let argument = self.argument(info)?;
        match (major, argument) {
            (0 | 1, _) | (7, _) => Some(false),
            (2 | 3, Some(length)) => {
                self.at = self.at.checked_add(usize::try_from(length).ok()?)?;
                (self.at <= self.bytes.len()).then_some(false)
            }
            (2 | 3, None) => {
                // Indefinite string: definite chunks until a break.
                while *self.bytes.get(self.at)? != BREAK {
                    self.item()?;
                }
                self.at += 1;
                Some(false)
            }
            (4, Some(count)) => {
                let mut found = false;
                for _ in 0..count {
                    found |= self.item()?;
                }
                Some(found)
            }
            (4, None) => {
                let mut found = false;
                while *self.bytes.get(self.at)? != BREAK {
                    found |= self.item()?;
                }
                self.at += 1;
                Some(found)
            }
            (5, _) => Some(true),
            (6, _) => self.item(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap};

    fn cbor<T: serde::Serialize>(value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    }

    #[test]
    fn finds_maps_at_any_depth_and_only_maps() {
        assert!(!has_map(&cbor(&(
            1u64,
            "text",
            vec![1.5f64, -2.0],
            b"bytes".to_vec()
        ))));
        assert!(!has_map(&cbor(&(Some(()), [u64::MAX; 3], "x".repeat(300)))));
        assert!(has_map(&cbor(&(1u8, vec![BTreeMap::from([(1, 2)])]))));
        #[derive(serde::Serialize)]
        struct Point {
            x: f64,
        }
        assert!(has_map(&cbor(&Point { x: 1.0 })), "structs encode as maps");
    }

    #[test]
    fn equal_hash_maps_canonicalize_to_equal_bytes() {
        let a: HashMap<String, u32> = (0..50).map(|i| (format!("k{i}"), i)).collect();
        let b: HashMap<String, u32> = (0..50).rev().map(|i| (format!("k{i}"), i)).collect();
        let (a, b) = (cbor(&(&a, 1)), cbor(&(&b, 1)));
        assert_eq!(canonicalize(&a).unwrap(), canonicalize(&b).unwrap());
    }
}
