//! TLS for the Redis tests: a private certificate authority and a server
//! certificate it signed for `127.0.0.1`, made by `openssl`, and the
//! `redis-server` arguments that serve TLS with them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cluster::{self, Cluster};
use crate::server::{Kind, Server};

/// A directory holding `ca.pem` (a CA certificate) and `cert.pem` with
/// `key.pem` (a server certificate for `127.0.0.1` signed by that CA, also
/// good as a client certificate), removed when dropped.
pub struct Certificates {
    dir: PathBuf,
}

impl Certificates {
    /// Makes a CA and a server certificate in a new temporary directory named after `name`.
    pub fn new(name: &str) -> Certificates {
        let dir = std::env::temp_dir().join(format!("cachetool-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let certificates = Certificates { dir };
        let path = |file: &str| certificates.path(file);
        // P-256 keys: quicker to make than RSA, and both rustls and Redis take them.
        let new_key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=cachetool test CA",
                ])
                .args(new_key)
                .arg("-keyout")
                .arg(path("ca.key"))
                .arg("-out")
                .arg(path("ca.pem")),
        );
        openssl(
            Command::new("openssl")
                .args(["req", "-subj", "/CN=127.0.0.1"])
                .args(new_key)
                .arg("-keyout")
                .arg(path("key.pem"))
                .arg("-out")
                .arg(path("cert.csr")),
        );
        // A certificate is checked against its subjectAltName, never its CN.
        std::fs::write(
            path("cert.ext"),
            "subjectAltName = IP:127.0.0.1\n\
             basicConstraints = CA:FALSE\n\
             keyUsage = digitalSignature, keyEncipherment\n\
             extendedKeyUsage = serverAuth, clientAuth\n",
        )
        .unwrap();
        openssl(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "1", "-set_serial", "1"])
                .arg("-in")
                .arg(path("cert.csr"))
                .arg("-CA")
                .arg(path("ca.pem"))
                .arg("-CAkey")
                .arg(path("ca.key"))
                .arg("-extfile")
                .arg(path("cert.ext"))
                .arg("-out")
                .arg(path("cert.pem")),
        );
        certificates
    }

    /// A file in the directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The CA certificate, for a client to trust.
    pub fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }

    /// `redis-server` arguments to serve TLS on `tls_port` with the server
    /// certificate, client certificates not required.
    pub fn redis_args(&self, tls_port: u16) -> Vec<String> {
        let file = |name: &str| self.path(name).display().to_string();
        vec![
            "--tls-port".into(),
            tls_port.to_string(),
            "--tls-cert-file".into(),
            file("cert.pem"),
            "--tls-key-file".into(),
            file("key.pem"),
            "--tls-ca-cert-file".into(),
            file("ca.pem"),
            "--tls-auth-clients".into(),
            "no".into(),
        ]
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(command: &mut Command) {
    let made = command
        .output()
        .expect("`openssl` makes the test certificates: apt-get install -y openssl");
    assert!(
        made.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// A free loopback port of at most `highest` (Redis Cluster's bus listens
/// 10,000 ports above a node's port, so a node's port must leave room).
pub fn free_port_up_to(highest: u16) -> u16 {
    // Bounded: the OS's ephemeral ports are spread evenly; most tries succeed.
    for _ in 0..1000 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port <= highest {
            return port;
        }
    }
    panic!("no free loopback port up to {highest}");
}

/// A redis-server with a TLS port besides its plain one, with `extra_args`:
/// the server, its TLS port and its certificates.
pub fn redis_server(name: &str, extra_args: &[&str]) -> (Server, u16, Certificates) {
    let certificates = Certificates::new(name);
    let tls_port = free_port_up_to(u16::MAX);
    let mut args = certificates.redis_args(tls_port);
    args.extend(extra_args.iter().map(|arg| arg.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_with(Kind::Redis, &args);
    (server, tls_port, certificates)
}

/// A 3-node Redis Cluster (see [`Cluster`]) with TLS between nodes
/// (`tls-cluster yes`, `tls-replication yes`) and for clients on each node's
/// TLS port, on `certificates`; the plain ports stay open for plain clients
/// (and the harness's readiness probe).
pub fn cluster(certificates: &Certificates) -> Cluster {
    let tls_ports: Vec<u16> = (0..3)
        .map(|_| free_port_up_to(cluster::HIGHEST_NODE_PORT))
        .collect();
    let nodes: Vec<Server> = tls_ports
        .iter()
        .map(|&tls_port| {
            let mut args = certificates.redis_args(tls_port);
            args.extend(["--tls-cluster", "yes", "--tls-replication", "yes"].map(String::from));
            args.extend(cluster::CLUSTER_ARGS.map(String::from));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            Server::start_with(Kind::Redis, &args)
        })
        .collect();
    let addresses: Vec<String> = tls_ports
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    let ca = certificates.ca().display().to_string();
    cluster::create(&addresses, &["--tls", "--cacert", &ca]);
    Cluster::ready(nodes, tls_ports)
}
