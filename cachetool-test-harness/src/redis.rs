//! Raw Redis: a plain client connection to a test server, and the calls of
//! each command from `INFO commandstats`, to count what a backend sent.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::server::Server;

/// A plain redis-crate connection to `server`, for raw reads and writes.
pub fn raw_connection(server: &Server) -> redis::Connection {
    connect(&server.url())
}

/// A plain redis-crate connection to `url`, every wait bounded by 5 s.
pub fn connect(url: &str) -> redis::Connection {
    let client = redis::Client::open(url).expect("a redis URL");
    let conn = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .expect("connect to the test redis-server");
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn
}

/// `calls` of each command from `INFO commandstats`, such as `"mget" -> 3`.
pub fn command_stats(conn: &mut redis::Connection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(conn)
        .expect("INFO");
    parse_command_stats(&info)
}

/// Parses `cmdstat_mget:calls=3,usec=...` lines.
pub fn parse_command_stats(info: &str) -> BTreeMap<String, u64> {
    let mut stats = BTreeMap::new();
    for line in info.lines() {
        let Some((name, fields)) = line.trim().split_once(':') else {
            continue;
        };
        let Some(name) = name.strip_prefix("cmdstat_") else {
            continue;
        };
        let calls = fields
            .split(',')
            .find_map(|field| field.strip_prefix("calls="))
            .and_then(|calls| calls.parse().ok())
            .unwrap_or(0);
        stats.insert(name.to_owned(), calls);
    }
    stats
}

/// The commands called between two snapshots, without the `INFO` that took
/// the second snapshot itself.
pub fn delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    let mut delta = BTreeMap::new();
    for (name, calls) in after {
        let was = before.get(name).copied().unwrap_or(0);
        let mut grew = calls.saturating_sub(was);
        if name == "info" {
            grew = grew.saturating_sub(1);
        }
        if grew > 0 {
            delta.insert(name.clone(), grew);
        }
    }
    delta
}
