//! A check of a CBOR payload's length fields before it is decoded.
//!
//! A definite length in CBOR (of an array, a map, a byte or text string) is
//! a claim that the decoder may act on before reading what it claims: serde
//! preallocates a `Vec` for a claimed array length (up to 1 MiB), whatever
//! the bytes that follow. A payload damaged or forged so as to claim 2^60
//! items would thus allocate far more than its own size before failing.
//! [`lengths_fit`] walks the item headers and refuses a payload in which any
//! claim exceeds the bytes left: every item takes at least one byte, every
//! string its length. A payload that passes makes the decoder allocate no
//! more than its length times the size of an element in memory (a `Vec<u8>`
//! or a `String`: no more than the payload).
//!
//! The walk reads headers only (a string's bytes are skipped), keeps no heap
//! state, and accepts every well-formed payload with at most
//! [`MAX_INDEFINITE_DEPTH`] indefinite-length containers open at once
//! (ciborium writes them only for sequences and maps of unknown length, such
//! as a `#[serde(flatten)]` struct).

/// The most indefinite-length containers open at once; deeper is refused (a miss).
const MAX_INDEFINITE_DEPTH: usize = 16;

/// The information value of a header that opens an indefinite-length item.
const INDEFINITE: u8 = 31;

/// Whether every length claimed in the CBOR item at the start of `data` fits
/// in the bytes that follow it (see the module docs). Bytes after the item
/// are not looked at, as the decoder ignores them.
pub(super) fn lengths_fit(data: &[u8]) -> bool {
    let mut at = 0usize;
    // Items still owed to the definite containers open in the current region:
    // the top level, or the innermost open indefinite container.
    let mut owed: u64 = 1;
    // `owed` of the enclosing regions, one per open indefinite container.
    let mut enclosing = [0u64; MAX_INDEFINITE_DEPTH];
    let mut depth = 0usize;
    loop {
        if depth == 0 && owed == 0 {
            return true;
        }
        let Some(&initial) = data.get(at) else {
            return false;
        };
        at += 1;
        if initial == 0xff {
            // A break closes the innermost indefinite container, once its
            // definite items are all there.
            if depth == 0 || owed != 0 {
                return false;
            }
            depth -= 1;
            owed = enclosing[depth];
            continue;
        }
        let major = initial >> 5;
        let info = initial & 0x1f;
        // An item of a definite container pays one of the owed items; one
        // directly in an indefinite container owes nothing.
        let counted = owed > 0;
        if counted {
            owed -= 1;
        }
        let argument = match info {
            0..=23 => u64::from(info),
            24..=27 => {
                let size = 1usize << (info - 24);
                let Some(bytes) = data.get(at..at + size) else {
                    return false;
                };
                at += size;
                bytes
                    .iter()
                    .fold(0u64, |value, &byte| value << 8 | u64::from(byte))
            }
            INDEFINITE if matches!(major, 2..=5) => {
                if depth == MAX_INDEFINITE_DEPTH {
                    return false;
                }
                enclosing[depth] = owed;
                depth += 1;
                owed = 0;
                continue;
            }
            _ => return false,
        };
        let left = (data.len() - at) as u64;
        match major {
            // Integers; simple values and floats (their bytes were the argument).
            0 | 1 | 7 => {}
            // Byte and text strings: their bytes, and one byte for each item still owed.
            2 | 3 => {
                if argument.saturating_add(owed) > left {
                    return false;
                }
                at += argument as usize;
            }
            // Arrays and maps: one byte at least for each item, owed ones included.
            4 | 5 => {
                let items = if major == 4 {
                    argument
                } else {
                    argument.saturating_mul(2)
                };
                owed = owed.saturating_add(items);
                if owed > left {
                    return false;
                }
            }
            // A tag: the item it tags follows, in its place.
            _ => {
                if counted {
                    owed += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cbor<T: serde::Serialize>(value: &T) -> Vec<u8> {
        let mut bytes = Vec::new();
        ciborium::into_writer(value, &mut bytes).unwrap();
        bytes
    }

    #[test]
    fn well_formed_payloads_fit() {
        use std::collections::BTreeMap;
        let map: BTreeMap<String, Vec<u32>> =
            [("a".into(), vec![1, 2, 300]), ("b".into(), vec![])].into();
        for bytes in [
            cbor(&0u8),
            cbor(&u64::MAX),
            cbor(&-5i64),
            cbor(&1.5f64),
            cbor(&"text".repeat(3000)),
            cbor(&vec![7u8; 100]),
            cbor(&vec![vec![1u16, 2], vec![], vec![3]]),
            cbor(&map),
            cbor(&(Some(1u8), None::<u8>, true, ())),
            cbor(&serde_bytes_like()),
        ] {
            assert!(lengths_fit(&bytes), "{bytes:02x?}");
        }
    }

    /// Byte strings (not arrays): what `serde_bytes` would write, by hand.
    fn serde_bytes_like() -> ciborium::Value {
        ciborium::Value::Array(vec![
            ciborium::Value::Bytes(vec![1, 2, 3]),
            ciborium::Value::Tag(2, Box::new(ciborium::Value::Bytes(vec![1; 20]))),
        ])
    }

    #[test]
    fn indefinite_lengths_fit_until_too_deep() {
        // [_ 1, [2, 3], (_ "ab" "c"), {_ 1: 2}] with indefinite containers.
        let bytes = [
            0x9f, 0x01, 0x82, 0x02, 0x03, 0x7f, 0x62, b'a', b'b', 0x61, b'c', 0xff, 0xbf, 0x01,
            0x02, 0xff, 0xff,
        ];
        assert!(lengths_fit(&bytes));
        let deep: Vec<u8> = [
            vec![0x9f; MAX_INDEFINITE_DEPTH],
            vec![0xff; MAX_INDEFINITE_DEPTH],
        ]
        .concat();
        assert!(lengths_fit(&deep));
        let deeper: Vec<u8> = [
            vec![0x9f; MAX_INDEFINITE_DEPTH + 1],
            vec![0xff; MAX_INDEFINITE_DEPTH + 1],
        ]
        .concat();
        assert!(!lengths_fit(&deeper));
    }

    #[test]
    fn claims_beyond_the_bytes_left_do_not_fit() {
        for bytes in [
            // An array of 2^60 items, a map of 2^63 pairs, a string of 2^64-1 bytes.
            &[0x9b, 0x10, 0, 0, 0, 0, 0, 0, 0, 1][..],
            &[0xbb, 0x80, 0, 0, 0, 0, 0, 0, 0],
            &[0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'a'],
            // Three items claimed, two there; a string one byte short.
            &[0x83, 0x01, 0x02],
            &[0x63, b'a', b'b'],
            // A string that leaves no byte for the array's next item.
            &[0x82, 0x62, b'a', b'b'],
            // Truncated headers and arguments; a stray break; reserved information values.
            &[],
            &[0x19, 0x01],
            &[0xff],
            &[0x82, 0x01, 0xff],
            &[0x1c],
            &[0xdf, 0x01],
        ] {
            assert!(!lengths_fit(bytes), "{bytes:02x?}");
        }
    }
}
