//! The serde `Serializer` that writes CBOR as ciborium does.

use std::fmt::{self, Display};

use serde::ser::{self, Serialize};

use super::collection::Collection;
use super::float::float_bytes;
use super::head::{
    major, write_head, BREAK, CIBORIUM_TAG_MARKER, FALSE, INDEFINITE, NULL, TAG_BIG_NEGATIVE,
    TAG_BIG_POSITIVE, TRUE,
};
use super::KeyBuffer;

/// The serializer: one per value, borrowing the key buffer.
pub(super) struct Encoder<'a> {
    out: &'a mut KeyBuffer,
    wrote_map: bool,
    declined: bool,
}

impl<'a> Encoder<'a> {
    pub(super) fn new(out: &'a mut KeyBuffer) -> Encoder<'a> {
        Encoder {
            out,
            wrote_map: false,
            declined: false,
        }
    }

    /// Whether it wrote a CBOR map.
    pub(super) fn wrote_map(&self) -> bool {
        self.wrote_map
    }

    /// Whether it declined something: what it wrote must be thrown away.
    pub(super) fn declined(&self) -> bool {
        self.declined
    }

    #[inline]
    pub(super) fn decline(&mut self) -> Error {
        self.declined = true;
        Error::Declined
    }

    #[inline]
    fn head(&mut self, major: u8, argument: u64) {
        write_head(self.out, major, argument);
    }

    #[inline]
    fn length(&mut self, major: u8, length: usize) {
        self.head(major, length as u64);
    }

    #[inline]
    pub(super) fn text(&mut self, text: &str) {
        self.length(major::TEXT, text.len());
        self.out.extend_from_slice(text.as_bytes());
    }

    #[inline]
    fn bytes(&mut self, bytes: &[u8]) {
        self.length(major::BYTES, bytes.len());
        self.out.extend_from_slice(bytes);
    }

    #[inline]
    fn map_head(&mut self, length: Option<usize>) {
        self.wrote_map = true;
        match length {
            Some(length) => self.length(major::MAP, length),
            None => self.out.push(major::MAP | INDEFINITE),
        }
    }

    /// An integer beyond 64 bits: a bignum tag over its big-endian bytes,
    /// leading zeros stripped.
    fn bignum(&mut self, tag: u64, magnitude: u128) {
        let bytes = magnitude.to_be_bytes();
        let leading_zeros = (magnitude.leading_zeros() / 8) as usize;
        self.head(major::TAG, tag);
        self.bytes(&bytes[leading_zeros..]);
    }

    /// Closes an indefinite-length array or map.
    #[inline]
    pub(super) fn end_indefinite(&mut self) {
        self.out.push(BREAK);
    }

    /// `{variant: ...}`: how ciborium writes every enum variant with data.
    #[inline]
    fn variant_key(&mut self, variant: &str) {
        self.map_head(Some(1));
        self.text(variant);
    }

    #[inline]
    fn collection(&mut self, length: Option<usize>) -> Collection<'_, 'a> {
        Collection::new(self, length)
    }
}

/// The error of [`Encoder`]: a decline, or the value's own `Serialize` error.
#[derive(Debug)]
pub(super) enum Error {
    Declined,
    Custom(String),
}

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Declined => f.write_str("declined: encode this value with ciborium"),
            Error::Custom(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(message: T) -> Error {
        Error::Custom(message.to_string())
    }
}

impl<'e, 'a> ser::Serializer for &'e mut Encoder<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Collection<'e, 'a>;
    type SerializeTuple = Collection<'e, 'a>;
    type SerializeTupleStruct = Collection<'e, 'a>;
    type SerializeTupleVariant = Collection<'e, 'a>;
    type SerializeMap = Collection<'e, 'a>;
    type SerializeStruct = Collection<'e, 'a>;
    type SerializeStructVariant = Collection<'e, 'a>;

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push(if v { TRUE } else { FALSE });
        Ok(())
    }

    #[inline]
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    #[inline]
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    #[inline]
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    #[inline]
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        match u64::try_from(v) {
            Ok(v) => self.head(major::POSITIVE, v),
            // CBOR stores -1 - v, which is v's bits inverted.
            Err(_) => self.head(major::NEGATIVE, !(v as u64)),
        }
        Ok(())
    }

    #[inline]
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        let (major, tag, magnitude) = if v < 0 {
            (major::NEGATIVE, TAG_BIG_NEGATIVE, !(v as u128))
        } else {
            (major::POSITIVE, TAG_BIG_POSITIVE, v as u128)
        };
        match u64::try_from(magnitude) {
            Ok(small) => self.head(major, small),
            Err(_) => self.bignum(tag, magnitude),
        }
        Ok(())
    }

    #[inline]
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    #[inline]
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    #[inline]
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    #[inline]
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.head(major::POSITIVE, v);
        Ok(())
    }

    #[inline]
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        match u64::try_from(v) {
            Ok(small) => self.head(major::POSITIVE, small),
            Err(_) => self.bignum(TAG_BIG_POSITIVE, v),
        }
        Ok(())
    }

    #[inline]
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(v.into())
    }

    #[inline]
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        let Some((item, length)) = float_bytes(v) else {
            return Err(self.decline());
        };
        self.out.extend_from_slice(&item[..length]);
        Ok(())
    }

    #[inline]
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.text(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.text(v);
        Ok(())
    }

    #[inline]
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.bytes(v);
        Ok(())
    }

    #[inline]
    fn serialize_none(self) -> Result<(), Error> {
        self.out.push(NULL);
        Ok(())
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }

    #[inline]
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }

    #[inline]
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.text(variant);
        Ok(())
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        if name == CIBORIUM_TAG_MARKER {
            return Err(self.decline());
        }
        self.variant_key(variant);
        value.serialize(self)
    }

    #[inline]
    fn serialize_seq(self, length: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        match length {
            Some(length) => self.length(major::ARRAY, length),
            None => self.out.push(major::ARRAY | INDEFINITE),
        }
        Ok(self.collection(length))
    }

    #[inline]
    fn serialize_tuple(self, length: usize) -> Result<Self::SerializeTuple, Error> {
        self.serialize_seq(Some(length))
    }

    #[inline]
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        length: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        self.serialize_seq(Some(length))
    }

    #[inline]
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        length: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        if name == CIBORIUM_TAG_MARKER {
            return Err(self.decline());
        }
        self.variant_key(variant);
        self.serialize_seq(Some(length))
    }

    #[inline]
    fn serialize_map(self, length: Option<usize>) -> Result<Self::SerializeMap, Error> {
        self.map_head(length);
        Ok(self.collection(length))
    }

    #[inline]
    fn serialize_struct(
        self,
        _name: &'static str,
        length: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        self.serialize_map(Some(length))
    }

    #[inline]
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        length: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        self.variant_key(variant);
        self.serialize_map(Some(length))
    }

    fn is_human_readable(&self) -> bool {
        // As ciborium: types such as `IpAddr` pick their compact form on this.
        false
    }
}
