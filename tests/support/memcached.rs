//! Memcached tests' caches: memcached servers of a test's own with a backend
//! and a cache on them ([`Setup`]).

use cachetool::MemcachedBackend;

/// Memcached servers of a test's own, a backend on them and a cache with a
/// fresh prefix (`counts()` gives every `stats` number of the servers, summed).
#[allow(dead_code)]
pub(crate) type Setup = super::remote::Setup<MemcachedBackend>;
