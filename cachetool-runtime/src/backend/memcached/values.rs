//! What goes into an item and comes out of one: LZ4 compression above the
//! threshold (flagged), the server's item size limit (`item_size_max`, asked
//! once per server), and the cas id noted with each entry read.

use std::borrow::Cow;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;

use super::protocol::{read_stats, Item};
use super::MemcachedBackend;
use crate::backend::Value;
use crate::{Error, ErrorKind, Result};

/// Memcached's default largest item, used until the server says otherwise.
const DEFAULT_ITEM_SIZE_MAX: usize = 1 << 20;
/// The smallest `item_size_max` memcached accepts: values this small never need asking.
const MIN_ITEM_SIZE_MAX: usize = 1024;
/// What memcached adds to a value in an item (header, cas, key terminator, `\r\n`), generously.
const ITEM_OVERHEAD: usize = 96;
/// The client flag of an LZ4-compressed value (block format, little-endian u32 size first).
pub(super) const FLAG_LZ4: u32 = 1 << 16;
/// The largest value we decompress: a guard against garbage claiming a huge size.
const MAX_DECOMPRESSED: usize = 1 << 30;

impl MemcachedBackend {
    /// The value an item holds (decompressed), noting its cas id if it is an entry.
    pub(super) fn value_of(&self, wire_key: &str, item: Item) -> Value {
        let cas = item.cas;
        let data = decode(item);
        self.cas_notes.remember(wire_key, &data, cas);
        Value::Bytes(data)
    }

    /// The bytes to store for `data`, and their flags.
    pub(super) fn encode<'v>(&self, data: &'v [u8]) -> (Cow<'v, [u8]>, u32) {
        if let Some(threshold) = self.compress_over {
            if data.len() >= threshold {
                let compressed = lz4_flex::block::compress_prepend_size(data);
                if compressed.len() < data.len() {
                    return (Cow::Owned(compressed), FLAG_LZ4);
                }
            }
        }
        (Cow::Borrowed(data), 0)
    }

    /// Whether `len` bytes under `wire_key` are over the server's item size limit.
    pub(super) fn too_large(&self, server: usize, wire_key: &str, len: usize) -> bool {
        let size = len + wire_key.len() + ITEM_OVERHEAD;
        size > MIN_ITEM_SIZE_MAX && size > self.item_size_max(server)
    }

    /// `item_size_max` of `server`, read from `stats settings` once.
    fn item_size_max(&self, server: usize) -> usize {
        if let Some(&max) = self.servers[server].item_size_max.get() {
            return max;
        }
        let settings = self.round_trip(
            server,
            "stats settings",
            |out| out.extend_from_slice(b"stats settings\r\n"),
            read_stats,
        );
        let max = settings.ok().and_then(|settings| {
            settings
                .iter()
                .find(|(name, _)| name == "item_size_max")
                .and_then(|(_, value)| value.parse::<usize>().ok())
        });
        match max {
            Some(max) => *self.servers[server].item_size_max.get_or_init(|| max),
            None => DEFAULT_ITEM_SIZE_MAX,
        }
    }

    /// Counts a value over the server's item size limit, and says so with an
    /// error of kind `TooLarge`, which a `Cache` counts in `Stats::oversized`.
    pub(super) fn not_stored_oversized(&self, key: &str, server: usize, len: usize) -> Error {
        self.oversized.fetch_add(1, Relaxed);
        Error::new(
            ErrorKind::TooLarge,
            format!(
                "memcached {}: a value of {len} bytes for {key:?} is over the item size limit; not stored",
                self.servers[server].address
            ),
        )
    }
}

/// The bytes of a stored item: decompressed if flagged so and well-formed, else as stored
/// (another client's value reads as a miss and is overwritten, never an error).
pub(super) fn decode(item: Item) -> Bytes {
    if item.flags & FLAG_LZ4 != 0 {
        if let Some(plain) = decompress(&item.data) {
            return Bytes::from(plain);
        }
    }
    item.data
}

fn decompress(data: &[u8]) -> Option<Vec<u8>> {
    let size = u32::from_le_bytes(data.get(..4)?.try_into().ok()?) as usize;
    // LZ4 expands at most 255-fold: a bigger claim is not LZ4.
    if size > MAX_DECOMPRESSED || size > (data.len() - 4).saturating_mul(255) + 16 {
        return None;
    }
    lz4_flex::block::decompress_size_prepended(data).ok()
}

/// The bytes of a value to store; memcached keeps no objects.
pub(super) fn bytes_of<'v>(value: &'v Value, what: &str) -> Result<&'v [u8]> {
    value.as_bytes().ok_or_else(|| {
        Error::new(
            ErrorKind::Codec,
            format!("memcached stores bytes, not objects ({what})"),
        )
    })
}
