//! One call of a cached function: what the generated code builds
//! ([`Request`]) and calls.
//!
//! - `local.rs`: with a cache in memory, the whole call on the local tier;
//! - with a remote backend: `lookup.rs` (one read, the hit decision),
//!   `miss.rs` (the miss loop, refresh, invalidate), `lead.rs` (the leader:
//!   the shared lock and its polling) and `store.rs` (the body and the store);
//!   `outcome.rs` has what they pass each other;
//! - `peek.rs`, `many.rs` and `unless.rs`: the `_peek` and `_many`
//!   companions and `unless = ...`;
//! - `expiry.rs`: each stored entry's TTL (`ttl = <closure>`, `jitter = ...`).
//!
//! The remote path is written once for threads and tasks (see `driver.rs`).

mod expiry;
mod fail_safe;
mod first_look;
mod lead;
mod local;
mod local_miss;
mod lookup;
pub(crate) mod many;
mod miss;
mod near;
mod outcome;
mod peek;
mod revalidate;
mod store;
pub(crate) mod unless;

use expiry::Window;
pub use expiry::{ttl_ok, ttl_value, EntryTtl, TtlOf};
pub(crate) use fail_safe::Throttles;
pub use first_look::{look_locally, LocalLook};
use local::LocalFound;
pub(crate) use lookup::{versions_of, wrong_count};
pub(crate) use outcome::{Found, Miss, TOMBSTONE_TTL};
pub use revalidate::Looked;
pub(crate) use store::share;

use std::cell::RefCell;
use std::convert::Infallible;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use smallvec::SmallVec;

use crate::__private::Cacheable;
use crate::cache::{Cache, Inner};
use crate::driver::{run_blocking, Blocking};
use crate::invalidations::Mark;
use crate::key::{CallId, KeyPart, Site, TagKeys};
use crate::local::tag_hash;

use crate::observe::OutcomeCell;
use crate::Result;
use unless::StoreUnless;

/// Everything one call needs, built before the body runs so that it owns its
/// keys and borrows none of the arguments.
pub struct Request<'c> {
    pub(crate) cache: &'c Cache,
    pub(crate) site: &'static Site,
    /// The call's identity (`None`: the arguments make no key).
    pub(crate) call: Option<CallId>,
    /// The entry's key in a remote backend (empty with a local store).
    pub(crate) entry_key: String,
    /// The tags' keys in a remote backend (none with a local store).
    pub(crate) tag_keys: TagKeys,
    /// The hashes of the tags' names, with a local store or a near tier.
    pub(crate) tag_hashes: SmallVec<[u64; 4]>,
    pub(crate) ttl: Option<Duration>,
    /// `ttl = |value| ...`: each value's own TTL, instead of `ttl` (see `expiry.rs`).
    pub(crate) ttl_of: Option<&'c (dyn EntryTtl + Sync)>,
    /// `jitter = ...`: the fraction by which each entry's TTL is drawn either
    /// way; 0 for none.
    /// (An `f32`, beside `old_answer`: the request lives in every level of
    /// a recursion of cached async fns, so every byte of it counts.)
    pub(crate) jitter: f32,
    /// `fail_safe = ...`: an entry that stopped being fresh less than this
    /// ago answers a failed body (see `fail_safe.rs`).
    pub(crate) fail_safe: Window,
    /// The body failed and `fail_safe` answered with an expired value, which
    /// is not to be stored.
    pub(crate) old_answer: AtomicBool,
    /// `refresh_ahead = ...`: the fraction of its TTL after which an entry
    /// is due for a recomputation; 0 for none (see `revalidate.rs`).
    pub(crate) refresh_ahead: f32,
    /// This call is a recomputation in the background: its lookups count
    /// no hit or miss.
    pub(crate) background: bool,
    /// `stale = ...`: how long past its TTL an entry is still served while
    /// it is recomputed in the background.
    pub(crate) stale: Window,
    /// What the generated code's look for a stale value read and found no
    /// value in, for the call's own first lookup (see `revalidate.rs`).
    pub(crate) pre_read: Option<Box<Found<Infallible>>>,
    /// Why the arguments could not be made into a key, if they could not.
    pub(crate) unkeyable: Option<Box<str>>,
    /// The invalidation counts when the call started: a store or hand-over is
    /// made only if no invalidation overtook the computation (see `invalidations.rs`).
    pub(crate) mark: Mark,
    /// How the load ended, for its span (see `observe/`).
    pub(crate) outcome: OutcomeCell,
    /// `unless = ...`: values not to store (see `unless.rs`).
    pub(crate) unless: Option<&'c (dyn StoreUnless + Sync)>,
    /// The generated code's first look found no current value in the local
    /// store, and counted the miss (see `first_look.rs`).
    pub(crate) missed_locally: bool,
}

impl<'c> Request<'c> {
    /// Builds the keys of one call. `self_type` is `Self` for methods with a
    /// receiver, keyed where the function path alone does not tell types apart.
    pub fn new(
        cache: &'c Cache,
        site: &'static Site,
        self_type: Option<&'static str>,
        generics: &[&'static str],
        key: KeyPart,
        tags: &[&str],
        ttl: Option<Duration>,
    ) -> Request<'c> {
        let inner = &cache.inner;
        let self_type = self_type.filter(|self_type| site.keys_self(self_type));
        let call = CallId::new(site, self_type, generics, &key);
        // Invalidations of this call's stripe (its function and arguments:
        // calls of other functions with the same arguments fall elsewhere).
        let mark = inner
            .invalidations
            .mark(call.map_or(0, |call| call.spread()));
        let (entry_key, tag_keys, tag_hashes) = match inner.local {
            // In memory, the tier keys by identity and tags by hash: no string.
            Some(_) => {
                // Not `collect` for no tag: SmallVec sizes and grows even an
                // empty vector (see `versions_now`).
                let hashes = match tags {
                    [] => SmallVec::new(),
                    tags => tags.iter().copied().map(tag_hash).collect(),
                };
                (String::new(), TagKeys::none(), hashes)
            }
            None => {
                let namespace = &inner.namespace;
                let mut entry_key = spare_key();
                namespace.write_entry_key(&mut entry_key, site.path(), self_type, generics, &key);
                // Most functions have no tags: no spare string for them.
                let tag_text = if tags.is_empty() {
                    String::new()
                } else {
                    spare_key()
                };
                let tag_keys = TagKeys::new(tag_text, namespace, tags);
                // A near tier keys tags by hash, as the memory backend does.
                let hashes = match (&inner.near, tags) {
                    (None, _) | (_, []) => SmallVec::new(),
                    (Some(_), tags) => tags.iter().copied().map(tag_hash).collect(),
                };
                (entry_key, tag_keys, hashes)
            }
        };
        Request {
            mark,
            outcome: OutcomeCell::new(),
            cache,
            site,
            call,
            tag_keys,
            tag_hashes,
            entry_key,
            // `ttl = Duration::MAX` and the like: no expiry, even over a default.
            ttl: match ttl {
                Some(ttl) => crate::durations::finite_ttl(Some(ttl)),
                None => inner.default_ttl,
            },
            unkeyable: match key {
                KeyPart::Unkeyable(reason) => Some(reason.into()),
                KeyPart::Hash(_) | KeyPart::Custom(_) => None,
            },
            unless: None,
            ttl_of: None,
            jitter: 0.0,
            fail_safe: Window::NONE,
            old_answer: AtomicBool::new(false),
            refresh_ahead: 0.0,
            background: false,
            stale: Window::NONE,
            pre_read: None,
            missed_locally: false,
        }
    }

    pub(crate) fn inner(&self) -> &'c Inner {
        &self.cache.inner
    }

    /// The cached value, or the body's, stored for the next call.
    pub fn get_or_compute<R: Cacheable>(self, body: impl FnOnce() -> R) -> R {
        never_fails(self.get_or_compute_ok(|| Ok::<R, Infallible>(body())))
    }

    /// The same for a body returning `Result`: only `Ok` is stored.
    pub fn get_or_compute_ok<T: Cacheable, E>(
        mut self,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let Some(local) = self.local() else {
            return match self.first_lookup_now() {
                Found::Hit(value) => Ok(value),
                found => run_blocking(self.get_or_load(&Blocking, Some(found), async { body() })),
            };
        };
        let found = match self.pre_read.is_some() {
            true => self.first_lookup_now().into(),
            false => self.local_lookup(local),
        };
        match found {
            LocalFound::Hit(value) => Ok(value),
            // In memory, a thread's miss builds no future (see `local_miss.rs`).
            found => self.observed_now(|| self.local_after_miss_now(local, found, body)),
        }
    }

    /// Runs the body now, stores its value and returns it.
    pub fn refresh<R: Cacheable>(self, body: impl FnOnce() -> R) -> R {
        never_fails(self.refresh_ok(|| Ok::<R, Infallible>(body())))
    }

    /// The same for a body returning `Result`: only `Ok` is stored.
    pub fn refresh_ok<T: Cacheable, E>(self, body: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        run_blocking(self.reload(&Blocking, async { body() }))
    }

    /// Drops this call's entry, and keeps any computation of it that started
    /// before from storing: it leaves a tombstone that such a store won't
    /// replace, for the entry's TTL or an hour, whichever is shorter.
    pub fn invalidate(self) -> Result<()> {
        run_blocking(self.drop_entry(&Blocking))
    }
}

/// The same for `async fn`: every wait is awaited, none blocks the executor.
#[cfg(feature = "tokio")]
impl Request<'_> {
    /// The cached value, or the body's, stored for the next call.
    pub async fn get_or_compute_async<R: Cacheable>(
        mut self,
        body: impl std::future::Future<Output = R>,
    ) -> R {
        let first = match self.lookup_if_local() {
            Some(Found::Hit(value)) => return value,
            first => first,
        };
        // Not through `get_or_compute_ok_async`: one async layer less per call
        // (in a debug build each layer's frame holds its callee's future, and
        // deep recursion of cached async fns runs out of stack).
        let body = async { Ok::<R, Infallible>(body.await) };
        never_fails(self.get_or_load(&crate::driver::Tokio, first, body).await)
    }

    /// The same for a body returning `Result`: only `Ok` is stored.
    pub async fn get_or_compute_ok_async<T: Cacheable, E>(
        mut self,
        body: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let first = match self.lookup_if_local() {
            Some(Found::Hit(value)) => return Ok(value),
            first => first,
        };
        self.get_or_load(&crate::driver::Tokio, first, body).await
    }

    /// With an in-process store (which never waits), the first lookup made
    /// at once: a hit returns before the miss path's future is even built.
    /// (What a look for a stale value read, if one did; a near tier's hit.)
    fn lookup_if_local<T: Cacheable>(&mut self) -> Option<Found<T>> {
        if self.pre_read.is_some() {
            return Some(self.first_lookup_now());
        }
        let inner = self.inner();
        if inner.local.is_some() || inner.backend.in_process {
            return Some(self.lookup_now());
        }
        // `#[async_trait]` methods make no first look: this is theirs. (An
        // `async fn` whose first look missed reads the tier once more.)
        self.near_hit().map(Found::Hit)
    }

    /// Runs the body now, stores its value and returns it.
    pub async fn refresh_async<R: Cacheable>(
        self,
        body: impl std::future::Future<Output = R>,
    ) -> R {
        never_fails(
            self.refresh_ok_async(async { Ok::<R, Infallible>(body.await) })
                .await,
        )
    }

    /// The same for a body returning `Result`: only `Ok` is stored.
    pub async fn refresh_ok_async<T: Cacheable, E>(
        self,
        body: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.reload(&crate::driver::Tokio, body).await
    }

    /// Drops this call's entry, as [`invalidate`](Request::invalidate) does.
    pub async fn invalidate_async(self) -> Result<()> {
        self.drop_entry(&crate::driver::Tokio).await
    }
}

thread_local! {
    /// Entry keys of finished calls, kept for the next calls of this thread, so
    /// that a hit allocates no key.
    static SPARE_KEYS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Keys longer than this are not kept: a rare long `key = ...` shouldn't pin memory.
const MAX_SPARE_KEY: usize = 1024;
const MAX_SPARE_KEYS: usize = 8;

fn spare_key() -> String {
    let spare = SPARE_KEYS.try_with(|spare| spare.try_borrow_mut().ok()?.pop());
    let mut key = spare.ok().flatten().unwrap_or_default();
    key.clear();
    key
}

fn keep_spare(key: String) {
    if key.capacity() == 0 || key.capacity() > MAX_SPARE_KEY {
        return;
    }
    // At thread exit the spares may be gone already: then the key is just freed.
    let _ = SPARE_KEYS.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut() {
            if spare.len() < MAX_SPARE_KEYS {
                spare.push(key);
            }
        }
    });
}

impl Drop for Request<'_> {
    fn drop(&mut self) {
        // A local store's calls build no string.
        if self.entry_key.capacity() == 0 {
            return;
        }
        keep_spare(std::mem::take(&mut self.entry_key));
        let tag_text = self.tag_keys.take_text();
        if tag_text.capacity() > 0 {
            keep_spare(tag_text);
        }
    }
}

fn never_fails<T>(outcome: Result<T, Infallible>) -> T {
    match outcome {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    /// The request lives in every level of a recursion of cached async fns
    /// (`tests/nesting.rs` recurses 40 deep in a debug build): a few more
    /// bytes overflowed its stack once. Grow it only knowingly.
    #[test]
    fn a_request_stays_small() {
        assert!(std::mem::size_of::<super::Request<'static>>() <= 336);
    }
}
