//! One behaviour test, written once, run six times: as sync functions on
//! threads and as `async fn`s on tokio tasks, on every backend.
//!
//! # One input, two expansions
//!
//! A test file puts its items in `for_each_mode!` (`for_each_remote_mode!`:
//! Redis and Memcached only; `in_modes!`: the two modes of one backend, for
//! a file that sets `KIND` itself):
//!
//! ```ignore
//! support::modes::for_each_mode! {
//!     static RUNS: AtomicUsize = AtomicUsize::new(0);
//!
//!     #[cached(cache = cache("square"))]
//!     fn square(n: u64) -> u64 {
//!         RUNS.fetch_add(1, SeqCst);
//!         n * n
//!     }
//!
//!     #[test]
//!     fn a_second_call_is_a_hit() {
//!         assert_eq!(call!(square(3)), 9);
//!         assert_eq!(call!(square(3)), 9);
//!         assert_eq!(RUNS.load(SeqCst), 1);
//!     }
//! }
//! ```
//!
//! The items are copied into a module per backend (`memory`, `redis`,
//! `memcached`: `for_each_backend!` in `support/mod.rs`, which gives each its
//! `KIND`), and there into a module per mode. In `memory::sync`:
//!
//! ```ignore
//! static RUNS: AtomicUsize = AtomicUsize::new(0);
//!
//! #[cached(cache = cache("square"))] // the cache "square" of this backend and mode
//! fn square(n: u64) -> u64 { RUNS.fetch_add(1, SeqCst); n * n }
//!
//! #[test]
//! fn a_second_call_is_a_hit() {
//!     bounded_thread(move || {          // fails after TEST_PATIENCE, never hangs
//!         assert_eq!(square(3), 9);     // `call!(f(x))` is `f(x)`
//!         assert_eq!(square(3), 9);
//!         assert_eq!(RUNS.load(SeqCst), 1);
//!     })
//! }
//! ```
//!
//! and in `memory::r#async` (with the `tokio` feature), where statics are
//! the module's own, so the modes never share a count:
//!
//! ```ignore
//! static RUNS: AtomicUsize = AtomicUsize::new(0);
//!
//! #[cached(cache = cache("square"))]
//! async fn square(n: u64) -> u64 { RUNS.fetch_add(1, SeqCst); n * n }
//!
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn a_second_call_is_a_hit() {
//!     bounded(async move {
//!         assert_eq!(Box::pin(square(3)).await, 9); // `call!` awaits (boxed: recursion compiles)
//!         assert_eq!(Box::pin(square(3)).await, 9);
//!         assert_eq!(RUNS.load(SeqCst), 1);
//!     })
//!     .await
//! }
//! ```
//!
//! Test names read `memory::sync::a_second_call_is_a_hit`,
//! `redis::r#async::a_second_call_is_a_hit`, and so on; `scripts/test`
//! counts them per backend and mode.
//!
//! # What a test body has
//!
//! - A `fn` carrying `#[cached(..)]` or `#[maybe_async]` (a marker, removed)
//!   stays a `fn` in sync mode and becomes an `async fn` in async mode, in
//!   `impl` and `trait` blocks too (in a `#[cached]` impl block, mark the
//!   methods it caches without an attribute of their own `#[maybe_async]`).
//!   Any other item is copied as it is.
//! - `#[test] fn t() { .. }` becomes a multi-thread `#[tokio::test]` in async
//!   mode; in both modes its body is bounded by [`TEST_PATIENCE`].
//! - `call!(f(x))` is `f(x)` or `Box::pin(f(x)).await`; `clean!(cache, tags)`
//!   and `clean_all!(cache)` call `clean`/`clean_all` or their `_async` twins.
//! - `spawn!({ .. })` runs the block on a new thread or task and `join!(h)`
//!   gives its `Result` (an `Err` when it panicked); `wait!(barrier)`,
//!   `sleep!(duration)`, `until!(condition, "what")` and
//!   `recv!(receiver, timeout)` (an `Option`) wait the mode's way, on
//!   `rt::Barrier` and `rt::channel()` (std's or tokio's).
//! - `cache(name)`, `cache_with(name, f)` and `new_cache(name)` give caches
//!   of that backend and that mode: the twins never share counters, tags or
//!   namespaces; `twin_cache(name)` is a second cache on the backend and
//!   prefix of `cache(name)`, as another process's would be.
//!
//! # How the rewriting works
//!
//! `in_modes!` writes the two mode modules, each importing its mode's
//! versions of `call!`, `spawn!`... under the same names (`sync_call as
//! call`, `async_call as call`), then hands the items to `items!`, a token
//! muncher: it reads one item at a time, collecting the attributes before
//! it, and a flag says what they make of a `fn` (`plain`, `twin`: async in
//! async mode, or `test`). `impl` and `trait` blocks are entered and their
//! members munched the same way; an impl block under `#[cached]` goes to
//! `cached_impl!`, which rewrites its methods before emitting the block, as
//! the attribute can't see into a macro call among its members.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use cachetool::{Cache, CacheBuilder};

use super::BackendKind;

/// Bounds every test of both modes, so that one that hangs fails instead.
#[allow(dead_code)]
pub(crate) const TEST_PATIENCE: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// The entry points.

/// Instantiates the items it is given once per backend and mode (see the module docs).
#[allow(unused_macros)]
macro_rules! for_each_mode {
    ($($body:tt)*) => {
        $crate::support::for_each_backend! {
            $crate::support::modes::in_modes! { $($body)* }
        }
    };
}

/// [`for_each_mode!`] on the remote backends only.
#[allow(unused_macros)]
macro_rules! for_each_remote_mode {
    ($($body:tt)*) => {
        $crate::support::for_each_remote_backend! {
            $crate::support::modes::in_modes! { $($body)* }
        }
    };
}

/// The two mode modules of one backend module (whose `KIND` they use).
#[allow(unused_macros)]
macro_rules! in_modes {
    ($($body:tt)*) => {
        // Companions that a mode's tests don't call are not dead code worth a warning.
        #[allow(dead_code)]
        mod sync {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::support::modes::{
                blocking as rt, sync_call as call, sync_clean as clean, sync_clean_all as clean_all,
                sync_join as join, sync_recv as recv, sync_sleep as sleep, sync_spawn as spawn,
                sync_until as until, sync_wait as wait,
            };
            $crate::support::modes::mode_caches!("sync");
            $crate::support::modes::items! { sync [] plain $($body)* }
        }
        #[cfg(feature = "tokio")]
        #[allow(dead_code)]
        mod r#async {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::support::modes::{
                tasks as rt, async_call as call, async_clean as clean, async_clean_all as clean_all,
                async_join as join, async_recv as recv, async_sleep as sleep, async_spawn as spawn,
                async_until as until, async_wait as wait,
            };
            $crate::support::modes::mode_caches!("async");
            $crate::support::modes::items! { async [] plain $($body)* }
        }
    };
}

/// `cache`, `cache_with`, `new_cache` and `twin_cache` of one backend (`KIND`) and mode.
#[allow(unused_macros)]
macro_rules! mode_caches {
    ($mode:literal) => {
        #[allow(dead_code)]
        fn cache(name: &'static str) -> &'static ::cachetool::Cache {
            $crate::support::modes::cache_with(KIND, $mode, name, |builder| builder)
        }
        #[allow(dead_code)]
        fn cache_with(
            name: &'static str,
            configure: impl FnOnce(::cachetool::CacheBuilder) -> ::cachetool::CacheBuilder,
        ) -> &'static ::cachetool::Cache {
            $crate::support::modes::cache_with(KIND, $mode, name, configure)
        }
        #[allow(dead_code)]
        fn new_cache(name: &str) -> ::cachetool::Cache {
            $crate::support::new_cache(KIND, &format!("{name}-{}", $mode))
        }
        /// A second cache on the backend and prefix of `cache(name)`, with
        /// counts and flights of its own: what another process's cache is.
        #[allow(dead_code)]
        fn twin_cache(name: &'static str) -> &'static ::cachetool::Cache {
            $crate::support::modes::twin_of(KIND, $mode, name)
        }
    };
}

// ---------------------------------------------------------------------------
// The rewriting.

/// The item muncher: `items! { mode [attributes so far] flag tokens.. }`,
/// where the flag says what the attributes seen so far make of the next `fn`:
/// `plain` (unchanged), `twin` (async in async mode) or `test`.
#[allow(unused_macros)]
macro_rules! items {
    // `impl` and `trait` blocks: gather the head up to the `{ .. }`, then munch the members.
    (@head $mode:tt [$($attrs:tt)*] [$($head:tt)*] { $($members:tt)* } $($rest:tt)*) => {
        $($attrs)* $($head)* {
            $crate::support::modes::items! { $mode [] plain $($members)* }
        }
        $crate::support::modes::items! { $mode [] plain $($rest)* }
    };
    (@head $mode:tt [$($attrs:tt)*] [$($head:tt)*] $next:tt $($rest:tt)*) => {
        $crate::support::modes::items! { @head $mode [$($attrs)*] [$($head)* $next] $($rest)* }
    };

    ($mode:tt [] plain) => {};

    // Attributes.
    ($mode:tt [$($attrs:tt)*] $flag:ident #[test] $($rest:tt)*) => {
        $crate::support::modes::items! { $mode [$($attrs)*] test $($rest)* }
    };
    ($mode:tt [$($attrs:tt)*] $flag:ident #[maybe_async] $($rest:tt)*) => {
        $crate::support::modes::items! { $mode [$($attrs)*] twin $($rest)* }
    };
    ($mode:tt [$($attrs:tt)*] $flag:ident #[cached $($options:tt)*] $($rest:tt)*) => {
        $crate::support::modes::items! { $mode [$($attrs)* #[cached $($options)*]] twin $($rest)* }
    };
    ($mode:tt [$($attrs:tt)*] $flag:ident #[$($attr:tt)*] $($rest:tt)*) => {
        $crate::support::modes::items! { $mode [$($attrs)* #[$($attr)*]] $flag $($rest)* }
    };

    // Tests.
    (sync [$($attrs:tt)*] test fn $name:ident () { $($body:tt)* } $($rest:tt)*) => {
        $($attrs)*
        #[test]
        fn $name() {
            $crate::support::modes::bounded_thread(move || { $($body)* })
        }
        $crate::support::modes::items! { sync [] plain $($rest)* }
    };
    (async [$($attrs:tt)*] test fn $name:ident () { $($body:tt)* } $($rest:tt)*) => {
        $($attrs)*
        #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            $crate::support::modes::bounded(async move { $($body)* }).await
        }
        $crate::support::modes::items! { async [] plain $($rest)* }
    };

    // Functions and methods: `async` in async mode when cached or marked.
    (async [$($attrs:tt)*] twin $vis:vis fn $name:ident ($($args:tt)*) $(-> $ret:ty)? { $($body:tt)* } $($rest:tt)*) => {
        $($attrs)*
        $vis async fn $name($($args)*) $(-> $ret)? { $($body)* }
        $crate::support::modes::items! { async [] plain $($rest)* }
    };
    ($mode:tt [$($attrs:tt)*] $flag:ident $vis:vis fn $name:ident ($($args:tt)*) $(-> $ret:ty)? { $($body:tt)* } $($rest:tt)*) => {
        $($attrs)*
        $vis fn $name($($args)*) $(-> $ret)? { $($body)* }
        $crate::support::modes::items! { $mode [] plain $($rest)* }
    };

    ($mode:tt [$($attrs:tt)*] plain impl $($rest:tt)*) => {
        $crate::support::modes::items! { @head $mode [$($attrs)*] [impl] $($rest)* }
    };
    // A `#[cached]` impl block: see `cached_impl!`.
    ($mode:tt [$($attrs:tt)*] twin impl $($rest:tt)*) => {
        $crate::support::modes::cached_impl! { @head $mode [$($attrs)*] [impl] $($rest)* }
    };
    ($mode:tt [$($attrs:tt)*] plain trait $($rest:tt)*) => {
        $crate::support::modes::items! { @head $mode [$($attrs)*] [trait] $($rest)* }
    };

    // Any other item, unchanged.
    ($mode:tt [$($attrs:tt)*] plain $item:item $($rest:tt)*) => {
        $($attrs)* $item
        $crate::support::modes::items! { $mode [] plain $($rest)* }
    };
}

/// An impl block under `#[cached]`: its methods are rewritten first and the
/// block emitted whole, so that the attribute sees them as they will be (it
/// can't see into a macro call among its members). Only methods: a method
/// carrying `#[cached(..)]` or `#[maybe_async]` twins, as with `items!`.
/// `cached_impl! { @head mode [attributes] [head so far] tokens.. }`, then
/// `cached_impl! { @members mode {attributes and head} [members done]
/// [attributes of the next member] flag members.. }`.
#[allow(unused_macros)]
macro_rules! cached_impl {
    (@head $mode:tt [$($attrs:tt)*] [$($head:tt)*] { $($members:tt)* } $($rest:tt)*) => {
        $crate::support::modes::cached_impl! {
            @members $mode { $($attrs)* $($head)* } [] [] plain $($members)*
        }
        $crate::support::modes::items! { $mode [] plain $($rest)* }
    };
    (@head $mode:tt [$($attrs:tt)*] [$($head:tt)*] $next:tt $($rest:tt)*) => {
        $crate::support::modes::cached_impl! { @head $mode [$($attrs)*] [$($head)* $next] $($rest)* }
    };

    (@members $mode:tt { $($head:tt)* } [$($done:tt)*] [] plain) => {
        $($head)* { $($done)* }
    };
    (@members $mode:tt $head:tt [$($done:tt)*] [$($attrs:tt)*] $flag:ident #[maybe_async] $($rest:tt)*) => {
        $crate::support::modes::cached_impl! { @members $mode $head [$($done)*] [$($attrs)*] twin $($rest)* }
    };
    (@members $mode:tt $head:tt [$($done:tt)*] [$($attrs:tt)*] $flag:ident #[cached $($options:tt)*] $($rest:tt)*) => {
        $crate::support::modes::cached_impl! {
            @members $mode $head [$($done)*] [$($attrs)* #[cached $($options)*]] twin $($rest)*
        }
    };
    (@members $mode:tt $head:tt [$($done:tt)*] [$($attrs:tt)*] $flag:ident #[$($attr:tt)*] $($rest:tt)*) => {
        $crate::support::modes::cached_impl! { @members $mode $head [$($done)*] [$($attrs)* #[$($attr)*]] $flag $($rest)* }
    };
    (@members async $head:tt [$($done:tt)*] [$($attrs:tt)*] twin $vis:vis fn $name:ident ($($args:tt)*) $(-> $ret:ty)? { $($body:tt)* } $($rest:tt)*) => {
        $crate::support::modes::cached_impl! {
            @members async $head [$($done)* $($attrs)* $vis async fn $name($($args)*) $(-> $ret)? { $($body)* }] [] plain $($rest)*
        }
    };
    (@members $mode:tt $head:tt [$($done:tt)*] [$($attrs:tt)*] $flag:ident $vis:vis fn $name:ident ($($args:tt)*) $(-> $ret:ty)? { $($body:tt)* } $($rest:tt)*) => {
        $crate::support::modes::cached_impl! {
            @members $mode $head [$($done)* $($attrs)* $vis fn $name($($args)*) $(-> $ret)? { $($body)* }] [] plain $($rest)*
        }
    };
}

// ---------------------------------------------------------------------------
// What `call!`, `spawn!`, `until!`... are in each mode: `in_modes!` imports
// one of each pair under the short name.

#[allow(unused_macros)]
macro_rules! sync_call {
    ($call:expr) => {
        $call
    };
}
#[allow(unused_macros)]
macro_rules! async_call {
    ($call:expr) => {
        ::std::boxed::Box::pin($call).await
    };
}

#[allow(unused_macros)]
macro_rules! sync_clean {
    ($cache:expr, $tags:expr) => {
        $cache.clean($tags)
    };
}
#[allow(unused_macros)]
macro_rules! async_clean {
    ($cache:expr, $tags:expr) => {
        $cache.clean_async($tags).await
    };
}

#[allow(unused_macros)]
macro_rules! sync_clean_all {
    ($cache:expr) => {
        $cache.clean_all()
    };
}
#[allow(unused_macros)]
macro_rules! async_clean_all {
    ($cache:expr) => {
        $cache.clean_all_async().await
    };
}

#[allow(unused_macros)]
macro_rules! sync_spawn {
    ($body:block) => {
        ::std::thread::spawn(move || $body)
    };
}
#[allow(unused_macros)]
macro_rules! async_spawn {
    ($body:block) => {
        ::tokio::spawn(async move $body)
    };
}

#[allow(unused_macros)]
macro_rules! sync_join {
    ($handle:expr) => {
        $handle.join()
    };
}
#[allow(unused_macros)]
macro_rules! async_join {
    ($handle:expr) => {
        $handle.await
    };
}

#[allow(unused_macros)]
macro_rules! sync_wait {
    ($barrier:expr) => {
        $barrier.wait()
    };
}
#[allow(unused_macros)]
macro_rules! async_wait {
    ($barrier:expr) => {
        $barrier.wait().await
    };
}

#[allow(unused_macros)]
macro_rules! sync_sleep {
    ($duration:expr) => {
        ::std::thread::sleep($duration)
    };
}
#[allow(unused_macros)]
macro_rules! async_sleep {
    ($duration:expr) => {
        ::tokio::time::sleep($duration).await
    };
}

/// `until!(condition, "what")`: polls `condition` every millisecond; panics
/// naming `what` if it does not hold within [`TEST_PATIENCE`].
#[allow(unused_macros)]
macro_rules! sync_until {
    ($condition:expr, $what:expr) => {
        $crate::support::modes::poll_until!($condition, $what, sync_sleep)
    };
}
#[allow(unused_macros)]
macro_rules! async_until {
    ($condition:expr, $what:expr) => {
        $crate::support::modes::poll_until!($condition, $what, async_sleep)
    };
}
/// `until!` with the mode's sleep (`sync_sleep` or `async_sleep`).
#[allow(unused_macros)]
macro_rules! poll_until {
    ($condition:expr, $what:expr, $sleep:ident) => {{
        let started = ::std::time::Instant::now();
        while !$condition {
            assert!(
                started.elapsed() < $crate::support::modes::TEST_PATIENCE,
                "gave up waiting until {}",
                $what
            );
            $crate::support::modes::$sleep!(::std::time::Duration::from_millis(1));
        }
    }};
}

#[allow(unused_macros)]
macro_rules! sync_recv {
    ($receiver:expr, $timeout:expr) => {
        $receiver.recv_timeout($timeout).ok()
    };
}
#[allow(unused_macros)]
macro_rules! async_recv {
    ($receiver:expr, $timeout:expr) => {{
        let mut receiver = $receiver;
        ::tokio::time::timeout($timeout, receiver.recv())
            .await
            .ok()
            .flatten()
    }};
}

#[allow(unused_imports)]
pub(crate) use for_each_remote_mode;
#[allow(unused_imports)]
pub(crate) use {
    async_call, async_clean, async_clean_all, async_join, async_recv, async_sleep, async_spawn,
    async_until, async_wait, cached_impl, for_each_mode, in_modes, items, mode_caches, poll_until,
    sync_call, sync_clean, sync_clean_all, sync_join, sync_recv, sync_sleep, sync_spawn,
    sync_until, sync_wait,
};

// ---------------------------------------------------------------------------
// What the expansions call at run time.

/// Threads: what `rt::` names in sync mode.
#[allow(unused_imports)]
pub(crate) mod blocking {
    pub(crate) use std::sync::mpsc::{channel, Receiver, Sender};
    pub(crate) use std::sync::Barrier;
    use std::sync::Mutex;

    /// [`Pause`](super::Pause) on std's barriers.
    #[allow(dead_code)]
    pub(crate) type Pause = super::Pause<Barrier>;

    #[allow(dead_code)]
    impl Pause {
        /// Takes the pause armed in `slot`, if any, and waits at both rendezvous.
        pub(crate) fn take_and_wait(slot: &Mutex<Option<Pause>>) {
            let Some(pause) = slot.lock().unwrap().take() else {
                return;
            };
            pause.started.wait();
            pause.resume.wait();
        }
    }
}

/// Tasks: what `rt::` names in async mode.
#[allow(unused_imports)]
pub(crate) mod tasks {
    use std::sync::Mutex;
    pub(crate) use tokio::sync::mpsc::{
        unbounded_channel as channel, UnboundedReceiver as Receiver, UnboundedSender as Sender,
    };
    pub(crate) use tokio::sync::Barrier;

    /// [`Pause`](super::Pause) on tokio's barriers.
    #[allow(dead_code)]
    pub(crate) type Pause = super::Pause<Barrier>;

    #[allow(dead_code)]
    impl Pause {
        /// Takes the pause armed in `slot`, if any, and awaits both rendezvous.
        pub(crate) async fn take_and_wait(slot: &Mutex<Option<Pause>>) {
            let Some(pause) = slot.lock().unwrap().take() else {
                return;
            };
            pause.started.wait().await;
            pause.resume.wait().await;
        }
    }
}

/// The two rendezvous of a body with its test: "I am here" (`started`) and
/// "you may go on" (`resume`). The test arms one in a static slot
/// ([`Pause::arm`]); the next body to call `rt::Pause::take_and_wait` on the
/// slot stops there until the test has passed both (`wait!(pause.started)`,
/// then `wait!(pause.resume)`). Later bodies find the slot empty.
pub(crate) struct Pause<B> {
    pub(crate) started: std::sync::Arc<B>,
    pub(crate) resume: std::sync::Arc<B>,
}

impl<B> Clone for Pause<B> {
    fn clone(&self) -> Self {
        Pause {
            started: std::sync::Arc::clone(&self.started),
            resume: std::sync::Arc::clone(&self.resume),
        }
    }
}

/// A barrier for two: the test and one body.
pub(crate) trait TwoParty {
    fn for_two() -> Self;
}

impl TwoParty for std::sync::Barrier {
    fn for_two() -> Self {
        std::sync::Barrier::new(2)
    }
}

#[cfg(feature = "tokio")]
impl TwoParty for tokio::sync::Barrier {
    fn for_two() -> Self {
        tokio::sync::Barrier::new(2)
    }
}

#[allow(dead_code)]
impl<B: TwoParty> Pause<B> {
    /// A pause armed in `slot`: the next body that takes it waits there.
    pub(crate) fn arm(slot: &Mutex<Option<Pause<B>>>) -> Pause<B> {
        let pause = Pause {
            started: std::sync::Arc::new(B::for_two()),
            resume: std::sync::Arc::new(B::for_two()),
        };
        *slot.lock().unwrap() = Some(pause.clone());
        pause
    }
}

/// Runs a sync test's body on a thread of its own, so that one that hangs (a
/// lost wake-up) fails after [`TEST_PATIENCE`] as an async twin does,
/// instead of hanging the whole run. A panic of the body is the test's.
#[allow(dead_code)]
pub(crate) fn bounded_thread(test: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let name = std::thread::current().name().unwrap_or("test").to_owned();
    let body = std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            test();
            let _ = done.send(());
        })
        .expect("spawn the test's thread");
    match finished.recv_timeout(TEST_PATIENCE) {
        Ok(()) => body.join().expect("the test's thread"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match body.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the body ended without saying so"),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("the test did not finish within {TEST_PATIENCE:?}")
        }
    }
}

/// Bounds an async test by [`TEST_PATIENCE`].
#[allow(dead_code)]
pub(crate) async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_PATIENCE, test)
        .await
        .unwrap_or_else(|_| panic!("the test did not finish within {TEST_PATIENCE:?}"))
}

/// The cache named `name` of `kind`'s backend in `mode`: the same one on
/// every call, with a prefix of its own. `configure` applies to the first
/// call only.
#[allow(dead_code)]
pub(crate) fn cache_with(
    kind: BackendKind,
    mode: &'static str,
    name: &'static str,
    configure: impl FnOnce(CacheBuilder) -> CacheBuilder,
) -> &'static Cache {
    type Caches = HashMap<(BackendKind, &'static str, &'static str), &'static Cache>;
    static CACHES: LazyLock<Mutex<Caches>> = LazyLock::new(Default::default);
    let mut caches = CACHES.lock().unwrap();
    caches.entry((kind, mode, name)).or_insert_with(|| {
        let builder = Cache::builder()
            .backend(super::backend(kind))
            .prefix(super::unique_prefix(&format!("{name}-{mode}")));
        Box::leak(Box::new(
            configure(builder).build().expect("build a test cache"),
        ))
    })
}

/// See `twin_cache` in [`mode_caches!`].
#[allow(dead_code)]
pub(crate) fn twin_of(kind: BackendKind, mode: &'static str, name: &'static str) -> &'static Cache {
    type Twins = HashMap<(BackendKind, &'static str, &'static str), &'static Cache>;
    static TWINS: LazyLock<Mutex<Twins>> = LazyLock::new(Default::default);
    let prefix = cache_with(kind, mode, name, |builder| builder)
        .prefix()
        .to_owned();
    let mut twins = TWINS.lock().unwrap();
    twins.entry((kind, mode, name)).or_insert_with(|| {
        let twin = Cache::builder()
            .backend(super::backend(kind))
            .prefix(prefix)
            .build()
            .expect("build a twin cache");
        Box::leak(Box::new(twin))
    })
}
