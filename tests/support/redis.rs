//! Redis-only test helpers: raw commands, `INFO commandstats` deltas, and a
//! 3-node Redis Cluster made with `redis-cli --cluster create`.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use super::server::{Kind, Server};

/// A plain redis-crate connection to `server`, for raw reads and writes.
pub fn raw_connection(server: &Server) -> redis::Connection {
    let client = redis::Client::open(server.url()).expect("a redis URL");
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
/// the second snapshot itself (nor anything else named in `ignore`).
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

/// A 3-node Redis Cluster on free loopback ports, without replicas; on TLS
/// ports too if it was started by `tls::cluster`.
pub struct Cluster {
    pub nodes: Vec<Server>,
    /// Each node's TLS port (none for a plain cluster).
    pub tls_ports: Vec<u16>,
}

const CLUSTER_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Node arguments of every cluster.
pub const CLUSTER_ARGS: [&str; 4] = ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"];
/// The highest port a node's cluster bus (10,000 ports above) leaves room for.
pub const HIGHEST_NODE_PORT: u16 = u16::MAX - 10_000;

impl Cluster {
    /// Starts 3 `redis-server --cluster-enabled yes`, joins them with
    /// `redis-cli --cluster create`, and waits (bounded) for `cluster_state:ok`
    /// on every node.
    pub fn start() -> Cluster {
        let nodes: Vec<Server> = (0..3)
            .map(|_| Server::start_with(Kind::Redis, &CLUSTER_ARGS))
            .collect();
        let addresses: Vec<String> = nodes.iter().map(Server::address).collect();
        create(&addresses, &[]);
        Cluster::ready(nodes, Vec::new())
    }

    /// Waits (bounded) until every node says `cluster_state:ok`.
    pub fn ready(nodes: Vec<Server>, tls_ports: Vec<u16>) -> Cluster {
        let deadline = Instant::now() + CLUSTER_READY_TIMEOUT;
        for node in &nodes {
            loop {
                let answer = node.raw(b"CLUSTER INFO\r\n");
                if String::from_utf8_lossy(&answer).contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the cluster is not ok within {CLUSTER_READY_TIMEOUT:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Cluster { nodes, tls_ports }
    }

    /// `redis+cluster://127.0.0.1:a,127.0.0.1:b,127.0.0.1:c`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self.nodes.iter().map(Server::address).collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// `rediss+cluster://{userinfo}127.0.0.1:a,...` on the TLS ports
    /// (`userinfo`: `""` or `user:password@`).
    pub fn tls_url(&self, userinfo: &str) -> String {
        let nodes: Vec<String> = self
            .tls_ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        format!("rediss+cluster://{userinfo}{}", nodes.join(","))
    }
}

/// Joins the nodes at `addresses` with `redis-cli {args} --cluster create`
/// (each node writes its cluster config in its own directory, `--dir`).
pub fn create(addresses: &[String], args: &[&str]) {
    let output = Command::new("redis-cli")
        .args(args)
        .args(["--cluster", "create"])
        .args(addresses)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("run redis-cli (apt-get install -y redis-server)");
    assert!(
        output.status.success(),
        "redis-cli --cluster create failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Stores and reads one value through `cache`'s backend and returns the server stats.
pub fn round_trip(cache: &cachetool::Cache) -> cachetool::ServerStats {
    let key = format!("{}:entry:f:1", cache.prefix());
    let backend = cache.backend();
    backend
        .set(
            &key,
            b"value".to_vec().into(),
            Some(Duration::from_secs(60)),
        )
        .expect("set");
    let values = backend.get_many(&[&key]).expect("get");
    assert_eq!(
        values[0].as_ref().and_then(|value| value.as_bytes()),
        Some(&b"value"[..])
    );
    cache.server_stats().expect("server stats")
}

/// A server of one's own, a backend on it, and a cache with a fresh prefix:
/// what most Redis tests start from.
pub struct Setup {
    pub server: Server,
    pub backend: std::sync::Arc<cachetool::RedisBackend>,
    pub cache: cachetool::Cache,
}

impl Setup {
    /// A new redis-server and a cache on it, configured by `configure`.
    pub fn new(
        name: &str,
        configure: impl FnOnce(cachetool::CacheBuilder) -> cachetool::CacheBuilder,
    ) -> Setup {
        let server = Server::start(Kind::Redis);
        Setup::on(server, name, configure)
    }

    /// The same on a given server.
    pub fn on(
        server: Server,
        name: &str,
        configure: impl FnOnce(cachetool::CacheBuilder) -> cachetool::CacheBuilder,
    ) -> Setup {
        let backend = std::sync::Arc::new(
            cachetool::RedisBackend::open(&server.url(), &Default::default()).expect("open redis"),
        );
        let builder = cachetool::Cache::builder()
            .backend(backend.clone())
            .prefix(super::unique_prefix(name));
        let cache = configure(builder).build().expect("build a redis cache");
        Setup {
            server,
            backend,
            cache,
        }
    }

    /// A new redis-server whose cache is built from its URL (so it has its own
    /// backend and connections) with `timeout` for connecting and for each
    /// command: for tests that stop and restart the server.
    pub fn with_url_cache(name: &str, timeout: std::time::Duration) -> Setup {
        let server = Server::start(Kind::Redis);
        let url = server.url();
        let mut setup = Setup::on(server, name, |builder| builder);
        setup.cache = cachetool::Cache::builder()
            .redis(&url)
            .expect("a redis URL")
            .prefix(super::unique_prefix(name))
            .connect_timeout(timeout)
            .io_timeout(timeout)
            .build()
            .expect("build a redis cache");
        setup
    }

    /// A plain client connection to this setup's server.
    pub fn raw(&self) -> redis::Connection {
        raw_connection(&self.server)
    }

    /// `{prefix}:entry:{name}:{part}`: the entry key of `#[cached(name = ..., key = ...)]`.
    pub fn entry_key(&self, name: &str, part: &str) -> String {
        format!("{}:entry:{name}:{part}", self.cache.prefix())
    }

    /// Every key under this cache's prefix (KEYS: tests only).
    pub fn keys(&self) -> Vec<Vec<u8>> {
        let mut conn = self.raw();
        redis::cmd("KEYS")
            .arg(format!("{}:*", self.cache.prefix()))
            .query(&mut conn)
            .expect("KEYS")
    }
}
