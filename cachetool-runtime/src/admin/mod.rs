//! For tools that operate a cache from outside the program that fills it (the
//! `cachetool` command): the keys `#[cached]` builds, what an entry holds,
//! listing and reading keys on a server, and invalidating one entry.
//!
//! Everything here reads and writes exactly what the cached functions do:
//! [`entry_key`] hashes arguments with the same code as the macro, and
//! [`invalidate_entry`] leaves the same tombstone as a generated
//! `foo_invalidate`.

mod envelope;
mod keys;
mod server;

pub use envelope::{version_of, Envelope};
#[cfg(any(feature = "redis", feature = "memcached"))]
pub(crate) use keys::is_hashed;
pub use keys::{classify, custom_entry_key, entry_key, function_path, tag_key, KeyKind};
pub use server::{inspect, invalidate_entry, scan_keys, Stored};
