//! The cache `#[cached]` functions use when they name none.

use std::sync::OnceLock;

use crate::{Cache, Error, Result};

static GLOBAL: OnceLock<Cache> = OnceLock::new();

/// The global cache: the one set by [`set_global`], or else an in-memory cache
/// with the default settings, made on first use.
pub fn global() -> &'static Cache {
    GLOBAL.get_or_init(Cache::memory)
}

/// Makes `cache` the global cache. Call it before the first cached call: once
/// the global cache is in use it can't be replaced, and this returns a
/// [`Config`](crate::ErrorKind::Config) error.
pub fn set_global(cache: Cache) -> Result<()> {
    GLOBAL.set(cache).map_err(|_| {
        Error::config(
            "the global cache is already in use; call set_global before the first cached call",
        )
    })
}
