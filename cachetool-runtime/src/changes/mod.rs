//! The change channel: what lets a local tier in front of Redis or
//! Memcached stay coherent with every other process's writes.
//!
//! Every change a cache makes to a prefix's data (an entry stored or
//! invalidated, a tag cleaned, the epoch moved on) publishes one message on
//! `{prefix}:changes`, in the same round trip as the change (inside the
//! script that makes it; see `backend/redis/write.rs`), or, for Memcached with
//! a Redis backplane, on the backplane after the change returned.
//!
//! - `message.rs`: the message's format, and how it is read back into what
//!   the local tier keys by (call identities, tag hashes, the epoch);
//! - `announce.rs`: how the backends write it;
//! - `subscriber.rs`: a thread of its own subscribed to one prefix's
//!   channel, telling a handler `Listening`, `Lost` and each change.
//!
//! The near tier (`near/`, a local tier in front of a remote backend) is
//! what [`subscribe`]s.

// Some of what the tests read (counters, formats) no call uses.
#![allow(dead_code)]

mod announce;
#[cfg(test)]
mod format_tests;
mod message;
mod subscriber;
#[cfg(test)]
mod tests;

// What the backends write with, and what the local tier reads with.
#[allow(unused_imports)]
pub(crate) use announce::{announce_keys, announce_one, Announcement, Publication};
#[allow(unused_imports)]
pub(crate) use message::{channel, decode, is_announced, prefix_of, Change, Corrupt, Message};
#[allow(unused_imports)]
pub(crate) use subscriber::{Event, Handler, Subscription, Target};

use crate::backend::Backend;

/// Subscribes `handler` to the changes of `prefix` heard by `backend`: a
/// Redis backend's own server (or cluster), or a Memcached backend's Redis
/// backplane. `None` when the backend has no channel (memory; Memcached
/// without a backplane): its local tier needs a `local_ttl` instead.
pub(crate) fn subscribe(
    backend: &dyn Backend,
    prefix: &str,
    handler: Handler,
) -> Option<std::io::Result<Subscription>> {
    let any: &dyn std::any::Any = backend;
    let target = if let Some(redis) = any.downcast_ref::<crate::RedisBackend>() {
        redis.subscription_target()
    } else {
        subscription_target_of_memcached(any)?
    };
    Some(Subscription::start(target, prefix, handler))
}

#[cfg(feature = "memcached")]
fn subscription_target_of_memcached(any: &dyn std::any::Any) -> Option<Target> {
    let memcached = any.downcast_ref::<crate::MemcachedBackend>()?;
    Some(memcached.backplane()?.subscription_target())
}

#[cfg(not(feature = "memcached"))]
fn subscription_target_of_memcached(_: &dyn std::any::Any) -> Option<Target> {
    None
}

/// The id in the changes `backend` announces (a Memcached backend's: its
/// backplane's), so that a subscriber can tell its own; `None` if it
/// announces none.
pub(crate) fn origin_of(backend: &dyn Backend) -> Option<u64> {
    let any: &dyn std::any::Any = backend;
    if let Some(redis) = any.downcast_ref::<crate::RedisBackend>() {
        return Some(redis.origin());
    }
    subscription_origin_of_memcached(any)
}

#[cfg(feature = "memcached")]
fn subscription_origin_of_memcached(any: &dyn std::any::Any) -> Option<u64> {
    let memcached = any.downcast_ref::<crate::MemcachedBackend>()?;
    Some(memcached.backplane()?.origin())
}

#[cfg(not(feature = "memcached"))]
fn subscription_origin_of_memcached(_: &dyn std::any::Any) -> Option<u64> {
    None
}
