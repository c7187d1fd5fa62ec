//! `server_stats`: the `INFO` of the server, or of every cluster primary, summed.

use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::Value as Reply;

use super::conn::Conn;
use super::RedisBackend;
use crate::backend::ServerStats;
use crate::Result;

impl RedisBackend {
    /// See [`Backend::server_stats`](crate::Backend::server_stats).
    pub(super) fn stats(&self) -> Result<ServerStats> {
        let reply = self.connections.run("INFO", |conn| match conn {
            Conn::Single(conn) => redis::cmd("INFO").query::<Reply>(conn),
            Conn::Cluster(conn) => conn.route_command(
                &redis::cmd("INFO"),
                RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None)),
            ),
        })?;
        let mut texts = Vec::new();
        collect_texts(reply, &mut texts);
        let mut stats = ServerStats::default();
        for text in &texts {
            add_info(&mut stats, text, self.db);
        }
        Ok(stats)
    }
}

/// Every string in a reply: one `INFO` text per server.
fn collect_texts(reply: Reply, texts: &mut Vec<String>) {
    match reply {
        Reply::BulkString(bytes) => texts.push(String::from_utf8_lossy(&bytes).into_owned()),
        Reply::VerbatimString { text, .. } | Reply::SimpleString(text) => texts.push(text),
        Reply::Array(items) | Reply::Set(items) => {
            for item in items {
                collect_texts(item, texts);
            }
        }
        Reply::Map(pairs) => {
            for (_, value) in pairs {
                collect_texts(value, texts);
            }
        }
        _ => {}
    }
}

/// Adds one server's `INFO` to `stats`.
fn add_info(stats: &mut ServerStats, info: &str, db: i64) {
    stats.servers += 1;
    let db_field = format!("db{db}");
    for line in info.lines() {
        let Some((name, value)) = line.trim().split_once(':') else {
            continue;
        };
        let number = || value.trim().parse::<u64>().unwrap_or(0);
        match name {
            "keyspace_hits" => stats.hits += number(),
            "keyspace_misses" => stats.misses += number(),
            "used_memory" => stats.memory_bytes += number(),
            _ if name == db_field => {
                let keys = value
                    .split(',')
                    .find_map(|field| field.strip_prefix("keys="))
                    .and_then(|keys| keys.parse::<u64>().ok());
                stats.items += keys.unwrap_or(0);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_is_parsed() {
        let mut stats = ServerStats::default();
        add_info(
            &mut stats,
            "# Stats\r\nkeyspace_hits:7\r\nkeyspace_misses:3\r\n# Memory\r\nused_memory:1000\r\n\
             # Keyspace\r\ndb0:keys=5,expires=1,avg_ttl=0\r\ndb1:keys=9,expires=0\r\n",
            0,
        );
        assert_eq!(
            (
                stats.servers,
                stats.hits,
                stats.misses,
                stats.memory_bytes,
                stats.items
            ),
            (1, 7, 3, 1000, 5)
        );
    }
}
