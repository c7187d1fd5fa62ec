//! The arrays and maps of sequences, tuples, maps, structs and enum variants.

use serde::ser::{self, Serialize};

use super::encoder::{Encoder, Error};

/// The open array or map of a sequence, tuple, map or struct.
pub(super) struct Collection<'e, 'a> {
    encoder: &'e mut Encoder<'a>,
    /// The length written in the header; `None` for an indefinite one.
    announced: Option<usize>,
    /// Items written so far.
    written: usize,
}

impl<'e, 'a> Collection<'e, 'a> {
    /// The collection whose header `encoder` just wrote, announcing `length` items.
    #[inline]
    pub(super) fn new(encoder: &'e mut Encoder<'a>, length: Option<usize>) -> Collection<'e, 'a> {
        Collection {
            encoder,
            announced: length,
            written: 0,
        }
    }

    #[inline]
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.written += 1;
        value.serialize(&mut *self.encoder)
    }

    #[inline]
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.encoder.text(key);
        value.serialize(&mut *self.encoder)
    }

    /// Closes an array. An array that got other than its announced number of
    /// items is malformed CBOR; the caller's map check would read past it, so
    /// it must not be let through with a "no map" verdict.
    #[inline]
    fn end_array(self) -> Result<(), Error> {
        match self.announced {
            None => self.encoder.end_indefinite(),
            Some(announced) if announced != self.written => return Err(self.encoder.decline()),
            Some(_) => {}
        }
        Ok(())
    }

    /// Closes a map. Its item count is not checked: any map sends the whole
    /// key through the canonical check, which handles malformed bytes as before.
    #[inline]
    fn end_map(self) -> Result<(), Error> {
        if self.announced.is_none() {
            self.encoder.end_indefinite();
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Collection<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        self.end_array()
    }
}

impl ser::SerializeTuple for Collection<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        self.end_array()
    }
}

impl ser::SerializeTupleStruct for Collection<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        self.end_array()
    }
}

impl ser::SerializeTupleVariant for Collection<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        self.end_array()
    }
}

impl ser::SerializeMap for Collection<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        key.serialize(&mut *self.encoder)
    }

    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.encoder)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        self.end_map()
    }
}

impl ser::SerializeStruct for Collection<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        self.end_map()
    }
}

impl ser::SerializeStructVariant for Collection<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        self.end_map()
    }
}
