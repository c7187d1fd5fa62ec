//! The CBOR of key arguments, written straight into the key buffer.
//!
//! Keys are persisted (Redis, Memcached), so the bytes are fixed forever as
//! what `ciborium::into_writer` 0.2 writes: this serializer reproduces them
//! byte for byte, without ciborium's generic writer and error plumbing, and
//! notes whether it wrote a map (only then must the key be canonicalized).
//!
//! Where matching ciborium is not worth the risk it declines instead: the
//! caller then encodes that value with ciborium itself. It declines
//! - NaN floats, whose payload ciborium maps through the `half` crate;
//! - ciborium's own tag markers (`ciborium::tag`, `ciborium::Value::Tag`);
//! - arrays whose `Serialize` announces one length and writes another: the
//!   bytes are malformed, and only the slow path treats them as before.

use serde::Serialize;

pub(crate) use buffer::KeyBuffer;
use encoder::{Encoder, Error};
pub(crate) use head::write_array_header;

mod buffer;
mod collection;
mod encoder;
mod float;
mod head;

/// What writing one value did to the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// Appended ciborium's bytes, and there is no map in them.
    NoMap,
    /// Appended ciborium's bytes, which may hold a map.
    MaybeMap,
    /// The value's `Serialize` failed, with this message (as ciborium words
    /// it); the buffer holds a partial encoding.
    Failed(String),
}

/// Appends the CBOR of `value` to `out`, exactly as `ciborium::into_writer`
/// would: by the fast encoder, or where it declines, by ciborium itself.
#[inline]
pub(crate) fn write<T: Serialize + ?Sized>(value: &T, out: &mut KeyBuffer) -> Written {
    let start = out.len();
    match encode(value, out) {
        Encoded::NoMap => Written::NoMap,
        Encoded::Map => Written::MaybeMap,
        Encoded::Failed(message) => Written::Failed(message),
        Encoded::Declined => {
            out.truncate(start);
            match ciborium::into_writer(value, &mut *out) {
                Ok(()) => Written::MaybeMap,
                Err(error) => Written::Failed(error.to_string()),
            }
        }
    }
}

/// What the fast encoder did.
#[derive(Debug, PartialEq, Eq)]
enum Encoded {
    NoMap,
    Map,
    /// It wrote something unusable: truncate it away and use ciborium.
    Declined,
    Failed(String),
}

#[inline]
fn encode<T: Serialize + ?Sized>(value: &T, out: &mut KeyBuffer) -> Encoded {
    let mut encoder = Encoder::new(out);
    let result = value.serialize(&mut encoder);
    // The flag, not the result: a `Serialize` impl may swallow our decline
    // and carry on, and what it wrote after that is no longer trustworthy.
    if encoder.declined() {
        return Encoded::Declined;
    }
    match result {
        Ok(()) if encoder.wrote_map() => Encoded::Map,
        Ok(()) => Encoded::NoMap,
        Err(Error::Custom(message)) => Encoded::Failed(ciborium_message(message)),
        Err(Error::Declined) => Encoded::Declined,
    }
}

/// The text ciborium's error gives for a `Serialize` impl's own error
/// (its `Display` is its `Debug`: `Value("...")`).
fn ciborium_message(message: String) -> String {
    ciborium::ser::Error::<std::io::Error>::Value(message).to_string()
}

#[cfg(test)]
mod tests;
