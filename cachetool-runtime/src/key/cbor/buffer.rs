//! The byte buffer a key is encoded into.

use std::cell::Cell;

/// Room on the stack: `(u64, &str)`-like keys never touch the heap.
const INLINE: usize = 64;

/// A key's encoding: in an inline array up to [`INLINE`] bytes, in a `Vec`
/// beyond. Cheaper per write than `SmallVec` (one length check on the inline
/// path, no spilled-or-not dispatch), which counts on a cache hit's path.
pub(crate) struct KeyBuffer {
    inline: [u8; INLINE],
    /// Bytes used in `inline`; [`SPILLED`] once the bytes moved to `heap`,
    /// which makes every inline write fail its length check.
    inline_len: usize,
    heap: Vec<u8>,
}

/// `inline_len` once the bytes are on the heap.
const SPILLED: usize = usize::MAX / 2;

/// The largest heap buffer kept for the next long key of the thread.
const MAX_SPARE: usize = 64 * 1024;

thread_local! {
    /// The heap part of the thread's last long key, reused by the next one so
    /// that long keys, too, allocate nothing once warm. A nested key (a
    /// `Serialize` impl calling a cached function) finds it taken and
    /// allocates its own.
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

impl KeyBuffer {
    /// An empty buffer.
    #[inline]
    pub(crate) fn new() -> KeyBuffer {
        KeyBuffer {
            inline: [0; INLINE],
            inline_len: 0,
            heap: Vec::new(),
        }
    }

    /// The bytes written so far.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self.inline.get(..self.inline_len) {
            Some(bytes) => bytes,
            None => &self.heap,
        }
    }

    /// How many bytes are written.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Drops the bytes from `len` on.
    pub(crate) fn truncate(&mut self, len: usize) {
        if self.inline_len == SPILLED {
            self.heap.truncate(len);
        } else {
            self.inline_len = self.inline_len.min(len);
        }
    }

    /// Appends one byte.
    #[inline]
    pub(crate) fn push(&mut self, byte: u8) {
        match self.inline.get_mut(self.inline_len) {
            Some(slot) => {
                *slot = byte;
                self.inline_len += 1;
            }
            None => self.spill(&[byte]),
        }
    }

    /// Appends `bytes`.
    #[inline]
    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) {
        let end = self.inline_len + bytes.len();
        match self.inline.get_mut(self.inline_len..end) {
            Some(slots) => {
                slots.copy_from_slice(bytes);
                self.inline_len = end;
            }
            None => self.spill(bytes),
        }
    }

    /// Appends `bytes` on the heap, moving the inline bytes there first.
    #[cold]
    fn spill(&mut self, bytes: &[u8]) {
        if self.inline_len != SPILLED {
            self.heap = SPARE.try_with(Cell::take).unwrap_or_default();
            self.heap.clear();
            self.heap.reserve(2 * (self.inline_len + bytes.len()));
            self.heap.extend_from_slice(&self.inline[..self.inline_len]);
            self.inline_len = SPILLED;
        }
        self.heap.extend_from_slice(bytes);
    }
}

impl Drop for KeyBuffer {
    #[inline]
    fn drop(&mut self) {
        if self.heap.capacity() != 0 {
            self.keep_spare();
        }
    }
}

impl KeyBuffer {
    /// Hands the heap part to the thread's next long key.
    #[cold]
    fn keep_spare(&mut self) {
        if self.heap.capacity() <= MAX_SPARE {
            let heap = std::mem::take(&mut self.heap);
            // Fails only while the thread is being torn down.
            let _ = SPARE.try_with(|spare| spare.set(heap));
        }
    }
}

/// For ciborium, which encodes the values the fast encoder declines.
impl std::io::Write for KeyBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_to_the_heap_and_truncates_either_way() {
        let mut buffer = KeyBuffer::new();
        let mut expected = Vec::new();
        for byte in 0..200u8 {
            if byte % 3 == 0 {
                buffer.push(byte);
                expected.push(byte);
            } else {
                buffer.extend_from_slice(&[byte, byte]);
                expected.extend_from_slice(&[byte, byte]);
            }
            assert_eq!(buffer.as_bytes(), expected);
        }
        buffer.truncate(10);
        expected.truncate(10);
        assert_eq!(buffer.as_bytes(), expected);
        buffer.extend_from_slice(&[7; 100]);
        expected.extend_from_slice(&[7; 100]);
        assert_eq!(buffer.as_bytes(), expected);

        let mut inline = KeyBuffer::new();
        inline.extend_from_slice(&[1; INLINE]);
        inline.truncate(3);
        inline.truncate(30);
        assert_eq!(inline.as_bytes(), [1, 1, 1]);
        inline.extend_from_slice(&[]);
        assert_eq!(inline.len(), 3);
    }

    #[test]
    fn a_reused_heap_part_starts_empty() {
        let mut first = KeyBuffer::new();
        first.extend_from_slice(&[9; 100]);
        drop(first);
        let mut second = KeyBuffer::new();
        second.extend_from_slice(&[1; 70]);
        assert_eq!(second.as_bytes(), [1; 70]);
        // A nested key spills while the outer one holds the spare.
        let mut nested = KeyBuffer::new();
        nested.extend_from_slice(&[2; 65]);
        assert_eq!(nested.as_bytes(), [2; 65]);
        assert_eq!(second.as_bytes(), [1; 70]);
    }
}
