//! A Redis backplane: where a Memcached backend announces its changes, so
//! that other processes' local tiers hear of them (Memcached has no channel
//! of its own). See `changes/`.
//!
//! Each change is published after it returned, as one `PUBLISH` on the
//! backplane: an extra round trip to Redis, counted in the backplane's
//! `round_trips`, not in Memcached's. The process that made the change needs
//! no message (its own local tier is coherent already); a publish that fails
//! is logged and does not fail the change, which was made: the other
//! processes' subscribers, on the same Redis, most likely lost their
//! connection too and emptied their tiers.

use crate::changes::{self, Publication};
use crate::RedisBackend;

use super::MemcachedBackend;

impl MemcachedBackend {
    /// Announces this backend's changes on the Redis at `url` from now on
    /// (the same forms as a Redis backend's URL, cluster and TLS included).
    /// Only reads the URL; connects on the first change.
    pub(crate) fn with_backplane(mut self, url: &str) -> crate::Result<MemcachedBackend> {
        self.backplane = Some(RedisBackend::open(url, &self.options)?);
        Ok(self)
    }

    /// The Redis backend the changes are announced on, if any.
    pub(crate) fn backplane(&self) -> Option<&RedisBackend> {
        self.backplane.as_ref()
    }

    /// Announces that `key` was set to `value` (a version is sent along).
    pub(super) fn announce_set(&self, key: &str, value: &[u8]) {
        if let Some(backplane) = &self.backplane {
            if let Some(publication) = changes::announce_one(backplane.origin(), key, Some(value)) {
                publish(backplane, &publication);
            }
        }
    }

    /// Announces that `keys` were stored or deleted: one message per prefix.
    pub(super) fn announce_keys(&self, keys: &[&str]) {
        if let Some(backplane) = &self.backplane {
            for (_, publication) in changes::announce_keys(backplane.origin(), keys) {
                publish(backplane, &publication);
            }
        }
    }
}

fn publish(backplane: &RedisBackend, publication: &Publication) {
    if let Err(error) = backplane.publish(publication) {
        tracing::warn!(
            channel = %publication.channel,
            "cachetool: a Memcached change was made but not announced on the backplane: {error}"
        );
    }
}
