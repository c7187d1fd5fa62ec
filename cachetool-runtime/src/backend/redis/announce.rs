//! The backend's side of the change channel (see `changes/`): its id in
//! the changes it announces, where a subscriber connects, and the publish of
//! a Memcached backplane. (Its own writes publish from inside their scripts:
//! `write.rs`.)

use super::RedisBackend;

impl RedisBackend {
    /// The random id in every change this backend announces (see `changes/`).
    pub(crate) fn origin(&self) -> u64 {
        self.origin
    }

    /// Where a subscriber to this backend's change channels connects: its
    /// server, or its cluster's nodes, with its timeouts and TLS.
    pub(crate) fn subscription_target(&self) -> crate::changes::Target {
        crate::changes::Target {
            nodes: self.connections.nodes().to_vec(),
            options: self.connections.options_of_connections(),
            server: self.server().to_owned(),
        }
    }

    /// Publishes `publication` (a Memcached backplane's announcement, after
    /// the change): one round trip.
    #[cfg(feature = "memcached")]
    pub(crate) fn publish(&self, publication: &crate::changes::Publication) -> crate::Result<()> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&publication.channel).arg(&publication.message[..]);
        self.connections
            .run("PUBLISH", |conn| {
                super::query_cmd::<redis::Value>(conn, &cmd)
            })
            .map(drop)
    }
}
