//! The part of a key made from the arguments: the xxh3-128 of their CBOR
//! encoding (canonical for maps), or the text of `key = ...`.

use std::fmt::{self, Display};

use serde::Serialize;
use xxhash_rust::xxh3::xxh3_128;

use super::canonical;
use super::cbor::{self as key_cbor, KeyBuffer, Written};

/// The part of an entry key that depends on the arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    /// xxh3-128 of the CBOR encoding of the key arguments.
    Hash(u128),
    /// The text of `key = ...`, as the user wrote it.
    Custom(String),
    /// The arguments could not be encoded (their `Serialize` failed): the call
    /// is not cached at all.
    Unkeyable(String),
}

/// Encodes key arguments one by one into exactly the CBOR of their tuple, so
/// that each argument's `Serialize` bound is checked once, at that argument.
pub struct KeyArgs {
    buffer: KeyBuffer,
    /// Why an argument could not be encoded.
    failure: Option<Box<str>>,
    /// Arguments announced by [`KeyArgs::new`] and not yet given: 0 when the
    /// encoding is one complete array, anything else when the caller gave
    /// more (it wraps around) or fewer.
    args_left: usize,
    /// Whether every argument is known to hold no map, so the encoding is
    /// already canonical and the map search can be skipped.
    map_free: bool,
}

impl KeyArgs {
    /// Starts the CBOR array of `count` arguments.
    // `arg` and `finish` take `&mut self`, so that a generated
    // `new(..).arg(..).finish()` chain works on one `KeyArgs` in place: by
    // value, each step moved its 120 bytes (inline buffer included).
    #[inline]
    pub fn new(count: usize) -> KeyArgs {
        let mut buffer = KeyBuffer::new();
        key_cbor::write_array_header(&mut buffer, count);
        KeyArgs {
            buffer,
            failure: None,
            args_left: count,
            map_free: true,
        }
    }

    /// Appends one argument.
    #[inline]
    pub fn arg<T: Serialize + ?Sized>(&mut self, arg: &T) -> &mut KeyArgs {
        self.args_left = self.args_left.wrapping_sub(1);
        if self.failure.is_none() {
            match key_cbor::write(arg, &mut self.buffer) {
                Written::NoMap => {}
                Written::MaybeMap => self.map_free = false,
                Written::Failed(failure) => self.failure = Some(failure.into()),
            }
        }
        self
    }

    /// The key part: xxh3-128 of the (canonical) encoding.
    #[inline]
    pub fn finish(&mut self) -> KeyPart {
        if let Some(failure) = self.failure.take() {
            return KeyPart::Unkeyable(failure.into());
        }
        let encoding = self.buffer.as_bytes();
        // With a wrong argument count the bytes are not one CBOR item; the
        // full check treats them as it always has.
        if self.map_free && self.args_left == 0 {
            return KeyPart::Hash(xxh3_128(encoding));
        }
        hash_encoding(encoding)
    }
}

/// xxh3-128 of a CBOR encoding, with map entries in canonical order: stable
/// across processes, builds and machines, and equal for equal maps.
pub(crate) fn hash_encoding(encoding: &[u8]) -> KeyPart {
    if !canonical::has_map(encoding) {
        return KeyPart::Hash(xxh3_128(encoding));
    }
    match canonical::canonicalize(encoding) {
        Ok(canonical) => KeyPart::Hash(xxh3_128(&canonical)),
        Err(error) => KeyPart::Unkeyable(error),
    }
}

impl KeyPart {
    /// Uses the user's own key text.
    pub fn custom<K: Display + ?Sized>(key: &K) -> KeyPart {
        KeyPart::Custom(key.to_string())
    }
}

impl Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPart::Hash(hash) => f.write_str(&hex128(*hash)),
            KeyPart::Custom(text) => f.write_str(text),
            KeyPart::Unkeyable(_) => f.write_str("-"),
        }
    }
}

/// `hash` as 32 lowercase hex digits (what `{:032x}` gives, without its cost).
pub(super) fn hex128(hash: u128) -> String {
    let mut text = String::with_capacity(32);
    push_hex128(&mut text, hash);
    text
}

pub(super) fn push_hex128(text: &mut String, hash: u128) {
    let mut digits = [0u8; 32];
    digits[..16].copy_from_slice(&hex_digits((hash >> 64) as u64).to_be_bytes());
    digits[16..].copy_from_slice(&hex_digits(hash as u64).to_be_bytes());
    text.push_str(std::str::from_utf8(&digits).expect("hex digits are ASCII"));
}

/// The 16 lowercase hex digits of `value` as the bytes of a `u128`, most
/// significant digit in the most significant byte: every digit at once, with
/// no table and no loop (this is on every call's path).
fn hex_digits(value: u64) -> u128 {
    const fn repeat(byte: u8) -> u128 {
        u128::from_ne_bytes([byte; 16])
    }
    // Spread the nibbles apart, one per byte: halves, quarters, bytes, nibbles.
    let mut spread = u128::from(value);
    spread = (spread & 0xffff_ffff) | ((spread >> 32) << 64);
    spread = (spread & 0x0000_0000_0000_ffff_0000_0000_0000_ffff)
        | ((spread & 0x0000_0000_ffff_0000_0000_0000_ffff_0000) << 16);
    spread = (spread & 0x0000_00ff_0000_00ff_0000_00ff_0000_00ff)
        | ((spread & 0x0000_ff00_0000_ff00_0000_ff00_0000_ff00) << 8);
    spread = (spread & 0x000f_000f_000f_000f_000f_000f_000f_000f)
        | ((spread & 0x00f0_00f0_00f0_00f0_00f0_00f0_00f0_00f0) << 4);
    // '0' + digit, and 'a' - '0' - 10 = 39 more for the digits above 9.
    let above_nine = ((spread + repeat(6)) >> 4) & repeat(1);
    spread + repeat(b'0') + above_nine * 39
}
