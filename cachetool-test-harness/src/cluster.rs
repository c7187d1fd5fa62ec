//! A 3-node Redis Cluster on free loopback ports, made with `redis-cli
//! --cluster create`, without replicas.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::server::{Kind, Server};

/// A 3-node Redis Cluster on free loopback ports, without replicas; on TLS
/// ports too if it was started by [`crate::tls::cluster`].
pub struct Cluster {
    /// The nodes, in the order of their slots.
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
