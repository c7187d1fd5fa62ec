//! Listing and reading keys for operators (`crate::admin`): `SCAN` on the
//! server or on every primary of a cluster, and a key's value with its `PTTL`.

use std::ops::ControlFlow;
use std::time::Duration;

use bytes::Bytes;
use redis::cluster::cluster_pipe;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{RedisResult, Value as Reply};

use super::conn::Conn;
use super::{keys, RedisBackend};
use crate::admin::Stored;
use crate::Result;

/// Keys asked for per `SCAN` call: a hint to the server, which answers each
/// call after visiting about this many slots of its table.
const SCAN_BATCH: usize = 1000;

impl RedisBackend {
    /// See [`admin::scan_keys`](crate::admin::scan_keys): `SCAN cursor MATCH
    /// {starting_with}* COUNT 1000` until the cursor comes back to 0, on the
    /// server or on each primary of the cluster in turn.
    pub(crate) fn scan_keys(
        &self,
        starting_with: &str,
        each: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<()> {
        let pattern = format!("{}*", glob_escape(starting_with));
        let nodes = match self.connections.is_cluster() {
            false => vec![None],
            true => self.primaries()?.into_iter().map(Some).collect(),
        };
        for node in nodes {
            let mut cursor = 0u64;
            loop {
                let (next, keys) = self.connections.run("SCAN", |conn| {
                    scan_step(conn, node.as_ref(), cursor, &pattern)
                })?;
                for key in keys {
                    if each(&String::from_utf8_lossy(&key)).is_break() {
                        return Ok(());
                    }
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }

    /// The primaries of the cluster, as `CLUSTER SLOTS` names them.
    fn primaries(&self) -> Result<Vec<(String, u16)>> {
        let reply = self.connections.run("CLUSTER SLOTS", |conn| match conn {
            Conn::Cluster(conn) => conn.route_command(
                redis::cmd("CLUSTER").arg("SLOTS"),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            ),
            Conn::Single(_) => unreachable!("asked of a cluster only"),
        })?;
        let mut primaries = Vec::new();
        if let Reply::Array(ranges) = reply {
            for range in ranges {
                // [start, end, [host, port, id, ...], replicas...]
                let Reply::Array(fields) = range else {
                    continue;
                };
                let Some(Reply::Array(primary)) = fields.get(2) else {
                    continue;
                };
                let host = match primary.first() {
                    Some(Reply::BulkString(host)) => String::from_utf8_lossy(host).into_owned(),
                    Some(Reply::SimpleString(host)) => host.clone(),
                    _ => continue,
                };
                let Some(Reply::Int(port)) = primary.get(1) else {
                    continue;
                };
                let Ok(port) = u16::try_from(*port) else {
                    continue;
                };
                if !primaries.contains(&(host.clone(), port)) {
                    primaries.push((host, port));
                }
            }
        }
        Ok(primaries)
    }

    /// See [`admin::inspect`](crate::admin::inspect): `GET` and `PTTL` in one
    /// pipeline. A key in the hashed form is read as it is.
    pub(crate) fn inspect(&self, key: &str) -> Result<Option<Stored>> {
        let key = match crate::admin::is_hashed(key) {
            true => key.into(),
            false => keys::redis_key(key),
        };
        let (value, ttl_ms) = self.connections.run("GET", |conn| {
            let reply: (Option<Vec<u8>>, i64) = match conn {
                Conn::Single(conn) => redis::pipe()
                    .cmd("GET")
                    .arg(key.as_ref())
                    .cmd("PTTL")
                    .arg(key.as_ref())
                    .query(conn)?,
                Conn::Cluster(conn) => cluster_pipe()
                    .cmd("GET")
                    .arg(key.as_ref())
                    .cmd("PTTL")
                    .arg(key.as_ref())
                    .query(conn)?,
            };
            Ok(reply)
        })?;
        Ok(value.map(|bytes| Stored {
            bytes: Bytes::from(bytes),
            // -1: no expiry (-2, gone since the GET: as good as none).
            ttl: u64::try_from(ttl_ms).ok().map(Duration::from_millis),
        }))
    }
}

/// One `SCAN` call: the next cursor and the keys of this batch.
fn scan_step(
    conn: &mut Conn,
    node: Option<&(String, u16)>,
    cursor: u64,
    pattern: &str,
) -> RedisResult<(u64, Vec<Vec<u8>>)> {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(SCAN_BATCH);
    match (conn, node) {
        (Conn::Single(conn), _) => cmd.query(conn),
        (Conn::Cluster(conn), Some((host, port))) => {
            let routing = SingleNodeRoutingInfo::ByAddress {
                host: host.clone(),
                port: *port,
            };
            let reply = conn.route_command(&cmd, RoutingInfo::SingleNode(routing))?;
            Ok(redis::from_redis_value(reply)?)
        }
        (Conn::Cluster(_), None) => unreachable!("a cluster is scanned node by node"),
    }
}

/// `text` with the glob characters of `MATCH` escaped, so that it matches only itself.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape("app:"), "app:");
        assert_eq!(glob_escape("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:");
    }
}
