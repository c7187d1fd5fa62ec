//! Shared by the integration tests: caches per backend, and
//! `for_each_backend!`, which runs one test body against every backend. The
//! servers themselves come from the `cachetool-test-harness` crate.
//!
//! Every test binary compiles this module and uses a part of it: an item
//! that some binaries leave unused carries the `allow` it needs.

#[cfg(any(feature = "redis", feature = "memcached"))]
pub(crate) mod counters;
#[cfg(feature = "memcached")]
pub(crate) mod memcached;
pub(crate) mod modes;
#[cfg(feature = "redis")]
pub(crate) mod redis;
#[cfg(any(feature = "redis", feature = "memcached"))]
pub(crate) mod remote;
#[cfg(all(feature = "redis", feature = "memcached", feature = "tokio"))]
pub(crate) mod two_level;
pub(crate) mod warnings;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use cachetool::{Backend, Cache, MemoryBackend};

/// Which backend a test module runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(dead_code)]
pub(crate) enum BackendKind {
    Memory,
    Redis,
    Memcached,
}

/// One backend of each kind per test binary; servers start on first use.
#[allow(dead_code)]
pub(crate) fn backend(kind: BackendKind) -> Arc<dyn Backend> {
    static MEMORY: LazyLock<Arc<dyn Backend>> =
        LazyLock::new(|| Arc::new(MemoryBackend::new(100_000)));
    match kind {
        BackendKind::Memory => Arc::clone(&MEMORY),
        #[cfg(feature = "redis")]
        BackendKind::Redis => {
            use cachetool_test_harness::{Kind, Server};
            static SERVER: LazyLock<Server> = LazyLock::new(|| Server::start(Kind::Redis));
            static REDIS: LazyLock<Arc<dyn Backend>> = LazyLock::new(|| {
                Arc::new(
                    cachetool::RedisBackend::open(&SERVER.url(), &Default::default())
                        .expect("open redis"),
                )
            });
            Arc::clone(&REDIS)
        }
        #[cfg(feature = "memcached")]
        BackendKind::Memcached => {
            use cachetool_test_harness::{Kind, Server};
            static SERVER: LazyLock<Server> = LazyLock::new(|| Server::start(Kind::Memcached));
            static MEMCACHED: LazyLock<Arc<dyn Backend>> = LazyLock::new(|| {
                Arc::new(
                    cachetool::MemcachedBackend::open(&SERVER.url(), &Default::default())
                        .expect("open memcached"),
                )
            });
            Arc::clone(&MEMCACHED)
        }
        #[allow(unreachable_patterns)]
        other => panic!("the {other:?} backend is not enabled in this build"),
    }
}

/// A prefix no earlier run used, so that tests never see each other's keys,
/// even on a server that outlived a previous run.
#[allow(dead_code)]
pub(crate) fn unique_prefix(name: &str) -> String {
    format!("test-{name}-{}-{:x}", std::process::id(), random_u64())
}

/// 64 random bits from std's hasher seed, and the time: distinct across runs.
#[allow(dead_code)]
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    hasher.finish()
}

/// The cache named `name` on `kind`'s backend: the same one on every call, with
/// a prefix of its own. `configure` applies to the first call only.
#[allow(dead_code)]
pub(crate) fn cache_with(
    kind: BackendKind,
    name: &'static str,
    configure: impl FnOnce(cachetool::CacheBuilder) -> cachetool::CacheBuilder,
) -> &'static Cache {
    static CACHES: LazyLock<Mutex<HashMap<(BackendKind, &'static str), &'static Cache>>> =
        LazyLock::new(Default::default);
    let mut caches = CACHES.lock().unwrap();
    caches.entry((kind, name)).or_insert_with(|| {
        let builder = Cache::builder()
            .backend(backend(kind))
            .prefix(unique_prefix(name));
        Box::leak(Box::new(
            configure(builder).build().expect("build a test cache"),
        ))
    })
}

/// A new cache on `kind`'s backend with its own prefix (not memoized).
#[allow(dead_code)]
pub(crate) fn new_cache(kind: BackendKind, name: &str) -> Cache {
    Cache::builder()
        .backend(backend(kind))
        .prefix(unique_prefix(name))
        .build()
        .expect("build a test cache")
}

/// Instantiates the items it is given once per backend, in modules `memory`,
/// `redis` and `memcached`, where `cache(name)`, `cache_with(name, f)`,
/// `new_cache(name)` and `KIND` refer to that module's backend. The same test
/// source thus runs against every backend, in one `cargo test`.
#[allow(unused_macros)]
macro_rules! for_each_backend {
    ($($body:tt)*) => {
        mod memory {
            const KIND: $crate::support::BackendKind = $crate::support::BackendKind::Memory;
            $crate::support::backend_module_prelude!();
            $($body)*
        }
        $crate::support::for_each_remote_backend! { $($body)* }
    };
}

/// [`for_each_backend!`] for the remote backends only: for what only a
/// server has (keys that a test can delete by hand, connections). Each
/// module also has `type Remote`, its backend type, for `remote::Setup<Remote>`.
#[allow(unused_macros)]
macro_rules! for_each_remote_backend {
    ($($body:tt)*) => {
        #[cfg(feature = "redis")]
        mod redis {
            const KIND: $crate::support::BackendKind = $crate::support::BackendKind::Redis;
            /// This module's backend type (see `support/remote.rs`).
            #[allow(dead_code)]
            type Remote = ::cachetool::RedisBackend;
            $crate::support::backend_module_prelude!();
            $($body)*
        }
        #[cfg(feature = "memcached")]
        mod memcached {
            const KIND: $crate::support::BackendKind = $crate::support::BackendKind::Memcached;
            /// This module's backend type (see `support/remote.rs`).
            #[allow(dead_code)]
            type Remote = ::cachetool::MemcachedBackend;
            $crate::support::backend_module_prelude!();
            $($body)*
        }
    };
}

/// The functions every backend module of `for_each_backend!` defines.
#[allow(unused_macros)]
macro_rules! backend_module_prelude {
    () => {
        #[allow(unused_imports)]
        use super::*;
        #[allow(dead_code)]
        fn cache(name: &'static str) -> &'static ::cachetool::Cache {
            $crate::support::cache_with(KIND, name, |builder| builder)
        }
        #[allow(dead_code)]
        fn cache_with(
            name: &'static str,
            configure: impl FnOnce(::cachetool::CacheBuilder) -> ::cachetool::CacheBuilder,
        ) -> &'static ::cachetool::Cache {
            $crate::support::cache_with(KIND, name, configure)
        }
        #[allow(dead_code)]
        fn new_cache(name: &str) -> ::cachetool::Cache {
            $crate::support::new_cache(KIND, name)
        }
    };
}

#[allow(unused_imports)]
pub(crate) use backend_module_prelude;
#[allow(unused_imports)]
pub(crate) use for_each_backend;
#[allow(unused_imports)]
pub(crate) use for_each_remote_backend;

/// How long past its TTL (measured from just after the store) an entry may
/// still be served: memcached keeps time in whole seconds, so an entry may
/// live up to a second longer there; redis-server compares expiries with a
/// clock it reads once per batch of commands, which can lag ours by a few
/// milliseconds. The memory backend reads expiries on the CPU's time-stamp
/// counter, which quanta calibrates once against the OS clock that the tests
/// sleep on: under load the two were seen to differ by up to tens of parts
/// per million, more than a thread's sleep overshoots a 2 s TTL by, so the
/// tests sleep 20 ms past it (a margin load cannot eat: a loaded machine
/// only sleeps longer).
#[allow(dead_code)]
pub(crate) fn expiry_grace(kind: BackendKind) -> Duration {
    match kind {
        BackendKind::Memcached => Duration::from_secs(1),
        BackendKind::Redis => Duration::from_millis(100),
        BackendKind::Memory => Duration::from_millis(20),
    }
}

/// A TTL closure's answer for the value of run `run` of a test's body: 2 s
/// for the first (memcached counts whole seconds: the shortest surely alive
/// right after a store), then an hour, so that what a test checks after a
/// recomputation races no expiry however slow the machine.
#[allow(dead_code)]
pub(crate) fn short_then_long(run: &u64) -> Duration {
    match run {
        1 => Duration::from_secs(2),
        _ => Duration::from_secs(3600),
    }
}
