//! The runtime of [cachetool](https://docs.rs/cachetool): the [`Cache`], its
//! backends, keys, tag versions, single-flight locks, codec and stats.
//!
//! Users depend on the `cachetool` crate, which re-exports this one together
//! with the `#[cached]` attribute.
#![cfg_attr(docsrs, feature(doc_cfg))]
// No `unsafe` in the library. The test build allows it in one module, the
// counting allocator of `codec/fuzz.rs` (`forbid` could not be lifted there).
#![cfg_attr(not(test), forbid(unsafe_code))]
#![cfg_attr(test, deny(unsafe_code))]

pub mod admin;
mod backend;
mod background;
mod builder;
mod cache;
mod call;
#[cfg(feature = "redis")]
mod changes;
mod codec;
mod driver;
mod durations;
mod error;
mod features;
mod flight;
mod global;
mod handover;
mod invalidations;
mod key;
mod local;
mod near;
mod observe;
mod stats;
mod sync;

// The model check of the hand-over: `RUSTFLAGS="--cfg cachetool_loom"`.
#[cfg(all(test, cachetool_loom))]
mod handover_loom;

#[doc(hidden)]
pub mod __private;

#[cfg(feature = "memcached")]
pub use backend::MemcachedBackend;
#[cfg(feature = "redis")]
pub use backend::RedisBackend;
pub use backend::{
    AsyncBackend, Backend, BackendFuture, ConnectOptions, HeldLock, LoadStart, LockRequest,
    MemoryBackend, ReplaceIf, ServerStats, Value, WritesFuture,
};
pub use builder::CacheBuilder;
pub use cache::Cache;
pub use error::{Error, ErrorKind, Result};
pub use global::{global, set_global};
pub use stats::Stats;
