#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use cachetool_macros::cached;
pub use cachetool_runtime::admin;
#[cfg(feature = "memcached")]
#[cfg_attr(docsrs, doc(cfg(feature = "memcached")))]
pub use cachetool_runtime::MemcachedBackend;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use cachetool_runtime::RedisBackend;
pub use cachetool_runtime::{
    global, set_global, AsyncBackend, Backend, BackendFuture, Cache, CacheBuilder, ConnectOptions,
    Error, ErrorKind, HeldLock, LoadStart, LockRequest, MemoryBackend, ReplaceIf, Result,
    ServerStats, Stats, Value, WritesFuture,
};

/// What `#[cached]` expands to uses; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use cachetool_runtime::__private::*;
}
