//! CBOR item headers (RFC 8949, 3): the initial byte and its argument in the
//! shortest form, and the constants the encoder writes.

use super::KeyBuffer;

/// CBOR major types (RFC 8949, 3.1), already shifted into the initial byte.
pub(super) mod major {
    pub(in crate::key::cbor) const POSITIVE: u8 = 0 << 5;
    pub(in crate::key::cbor) const NEGATIVE: u8 = 1 << 5;
    pub(in crate::key::cbor) const BYTES: u8 = 2 << 5;
    pub(in crate::key::cbor) const TEXT: u8 = 3 << 5;
    pub(in crate::key::cbor) const ARRAY: u8 = 4 << 5;
    pub(in crate::key::cbor) const MAP: u8 = 5 << 5;
    pub(in crate::key::cbor) const TAG: u8 = 6 << 5;
}

pub(super) const FALSE: u8 = 0xf4;
pub(super) const TRUE: u8 = 0xf5;
pub(super) const NULL: u8 = 0xf6;
pub(super) const FLOAT16: u8 = 0xf9;
pub(super) const FLOAT32: u8 = 0xfa;
pub(super) const FLOAT64: u8 = 0xfb;
/// Opens an indefinite-length array or map when or-ed into its major type.
pub(super) const INDEFINITE: u8 = 31;
pub(super) const BREAK: u8 = 0xff;
/// RFC 8949 bignum tags, which ciborium uses for 128-bit integers beyond 64 bits.
pub(super) const TAG_BIG_POSITIVE: u64 = 2;
pub(super) const TAG_BIG_NEGATIVE: u64 = 3;
/// The type name ciborium's tag wrappers serialize under, to smuggle a tag
/// through serde; its serializer treats them specially.
pub(super) const CIBORIUM_TAG_MARKER: &str = "@@TAG@@";

/// The array header of `count` items, which opens a key's tuple of arguments.
#[inline]
pub(crate) fn write_array_header(out: &mut KeyBuffer, count: usize) {
    write_head(out, major::ARRAY, count as u64);
}

/// Appends an item header: `major` with `argument` in the shortest form.
#[inline]
pub(super) fn write_head(out: &mut KeyBuffer, major: u8, argument: u64) {
    // Small arguments (short strings and arrays, small integers) are the
    // common case: one byte, inlined at every call site.
    if argument < 24 {
        out.push(major | argument as u8);
    } else {
        write_long_head(out, major, argument);
    }
}

/// [`write_head`] for arguments of 24 and up, which follow the initial byte.
fn write_long_head(out: &mut KeyBuffer, major: u8, argument: u64) {
    match argument {
        0..=0xff => out.extend_from_slice(&[major | 24, argument as u8]),
        0x100..=0xffff => {
            let [a, b] = (argument as u16).to_be_bytes();
            out.extend_from_slice(&[major | 25, a, b]);
        }
        0x1_0000..=0xffff_ffff => {
            let [a, b, c, d] = (argument as u32).to_be_bytes();
            out.extend_from_slice(&[major | 26, a, b, c, d]);
        }
        _ => {
            let [a, b, c, d, e, f, g, h] = argument.to_be_bytes();
            out.extend_from_slice(&[major | 27, a, b, c, d, e, f, g, h]);
        }
    }
}
