//! The cas ids of recently read entries, so that a compare-and-set store needs no second read.

use parking_lot::Mutex;
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

use crate::codec;

/// The cas id that recently read entry values had, so that `replace_if(seen)`
/// can `cas` without reading the key again: a fixed table indexed by key hash,
/// each slot remembering (key hash, fingerprint of the value, cas id).
///
/// Only entries are noted (values in the codec's envelope, which holds a
/// random stamp new on every write: see `codec::is_entry`); the fingerprint
/// hashes their first 64 bytes (the stamp among them) and their length. A value that is
/// not noted, or whose slot was reused, costs `replace_if` one more round trip:
/// `gets`, compare, `cas`. The server's cas check makes both ways safe.
pub(super) struct CasNotes {
    slots: Box<[Mutex<Note>]>,
}

#[derive(Clone, Copy, Default)]
struct Note {
    key: u64,
    print: u128,
    cas: u64,
}

const CAS_NOTE_SLOTS: usize = 1024;

impl CasNotes {
    pub(super) fn new() -> CasNotes {
        CasNotes {
            slots: (0..CAS_NOTE_SLOTS).map(|_| Mutex::default()).collect(),
        }
    }

    fn print(data: &[u8]) -> Option<u128> {
        codec::is_entry(data).then(|| xxh3_128(&data[..data.len().min(64)]) ^ data.len() as u128)
    }

    fn slot(&self, key: u64) -> &Mutex<Note> {
        &self.slots[key as usize % CAS_NOTE_SLOTS]
    }

    pub(super) fn remember(&self, wire_key: &str, data: &[u8], cas: u64) {
        if let Some(print) = CasNotes::print(data) {
            let key = xxh3_64(wire_key.as_bytes());
            *self.slot(key).lock() = Note { key, print, cas };
        }
    }

    pub(super) fn recall(&self, wire_key: &str, data: &[u8]) -> Option<u64> {
        let print = CasNotes::print(data)?;
        let key = xxh3_64(wire_key.as_bytes());
        let note = *self.slot(key).lock();
        (note.key == key && note.print == print && note.cas != 0).then_some(note.cas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_entries_are_noted_and_only_the_same_value_recalls() {
        let notes = CasNotes::new();
        let entry = codec::encode(
            false,
            &[1],
            codec::FreshUntil::ALWAYS,
            &"a value".to_string(),
        )
        .unwrap();
        let entry = entry.as_bytes().unwrap().to_vec();
        notes.remember("k", &entry, 42);
        assert_eq!(notes.recall("k", &entry), Some(42));
        assert_eq!(notes.recall("other", &entry), None);
        let mut changed = entry.clone();
        changed[5] ^= 1;
        assert_eq!(notes.recall("k", &changed), None);
        notes.remember("v", b"12345", 7);
        assert_eq!(notes.recall("v", b"12345"), None, "not an entry");
    }
}
