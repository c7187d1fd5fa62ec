//! `server_stats`: each server's `stats`, summed over the servers that answer.

use super::protocol::read_stats;
use super::MemcachedBackend;
use crate::backend::ServerStats;
use crate::Result;

impl MemcachedBackend {
    /// See [`Backend::server_stats`](crate::Backend::server_stats): an error
    /// only when no server answers.
    pub(super) fn stats(&self) -> Result<ServerStats> {
        let mut total = ServerStats::default();
        let mut first_error = None;
        for server in 0..self.servers.len() {
            let stats = match self.round_trip(
                server,
                "stats",
                |out| out.extend_from_slice(b"stats\r\n"),
                read_stats,
            ) {
                Ok(stats) => stats,
                Err(error) => {
                    first_error.get_or_insert(error);
                    continue;
                }
            };
            total.servers += 1;
            for (name, value) in stats {
                let value = value.parse::<u64>().unwrap_or(0);
                match name.as_str() {
                    "get_hits" => total.hits += value,
                    "get_misses" => total.misses += value,
                    "curr_items" => total.items += value,
                    "bytes" => total.memory_bytes += value,
                    _ => {}
                }
            }
        }
        match first_error {
            Some(error) if total.servers == 0 => Err(error),
            _ => Ok(total),
        }
    }
}
