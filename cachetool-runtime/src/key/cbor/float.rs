//! Floats in the narrowest width that holds them exactly, as ciborium writes them.

use super::head::{FLOAT16, FLOAT32, FLOAT64};

/// The CBOR item of `v` (bytes, length) as ciborium writes it: in the
/// narrowest of f16, f32 and f64 that holds it exactly. `None` for NaN, whose
/// width ciborium decides by how `half` carries its payload.
pub(super) fn float_bytes(v: f64) -> Option<([u8; 9], usize)> {
    let mut item = [0u8; 9];
    if v.is_nan() {
        return None;
    }
    if let Some(half) = exact_f16_bits(v) {
        item[0] = FLOAT16;
        item[1..3].copy_from_slice(&half.to_be_bytes());
        return Some((item, 3));
    }
    let single = v as f32;
    if f64::from(single).to_bits() == v.to_bits() {
        item[0] = FLOAT32;
        item[1..5].copy_from_slice(&single.to_be_bytes());
        return Some((item, 5));
    }
    item[0] = FLOAT64;
    item[1..9].copy_from_slice(&v.to_be_bytes());
    Some((item, 9))
}

/// The IEEE binary16 bits of `v` when `v` (not NaN) is exactly a binary16
/// value, which is when ciborium's `half` round trip gives back the same bits.
fn exact_f16_bits(v: f64) -> Option<u16> {
    const MANTISSA_BITS: u32 = 52;
    const MANTISSA: u64 = (1 << MANTISSA_BITS) - 1;
    // f16 keeps 10 of f64's 52 mantissa bits.
    const DROPPED: u64 = (1 << 42) - 1;
    let bits = v.to_bits();
    let sign = ((bits >> 48) & 0x8000) as u16;
    let biased_exponent = ((bits >> MANTISSA_BITS) & 0x7ff) as i32;
    let mantissa = bits & MANTISSA;
    match biased_exponent {
        // Infinity (NaN is the caller's).
        0x7ff => (mantissa == 0).then_some(sign | 0x7c00),
        // Zero; any other f64 subnormal is far below the smallest f16.
        0 => (mantissa == 0).then_some(sign),
        _ => {
            let exponent = biased_exponent - 1023;
            match exponent {
                // A normal f16.
                -14..=15 => (mantissa & DROPPED == 0)
                    .then(|| sign | ((exponent + 15) as u16) << 10 | (mantissa >> 42) as u16),
                // A subnormal f16: v = m * 2^-24 with m < 1024.
                -24..=-15 => {
                    let significand = (1u64 << MANTISSA_BITS) | mantissa;
                    let shift = (28 - exponent) as u32;
                    (significand & ((1u64 << shift) - 1) == 0)
                        .then(|| sign | (significand >> shift) as u16)
                }
                _ => None,
            }
        }
    }
}
