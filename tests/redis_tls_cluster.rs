//! The README's cluster URLs with TLS and credentials, on a real 3-node
//! Redis Cluster whose nodes talk TLS to each other (`tls-cluster yes`) and to
//! clients on their TLS ports, and know one user with a password (the default
//! user is off, so nothing works without it):
//! `rediss+cluster://user:password@...` reaches every node, sync and async,
//! with the certificate verified; `redis+cluster://user:password@...` (the
//! same nodes' plain ports) too; a wrong password is an authentication error
//! that does not show the password.
//!
//! The certificate is verified against the roots that `SSL_CERT_FILE` names
//! (rustls-native-certs, which the `redis` crate loads the system's roots
//! with, reads that file instead of the system's store): this binary's `main`
//! sets it to the test CA before any thread starts, so this is a custom
//! harness (libtest-mimic), and the only binary that trusts the test CA.

mod support;

use std::io::Read;
use std::sync::{LazyLock, OnceLock};
use std::time::{Duration, Instant};

use cachetool::{Cache, ErrorKind};
use cachetool_test_harness::cluster::Cluster;
use cachetool_test_harness::tls::Certificates;
use libtest_mimic::{Failed, Trial};

const USER: &str = "cachetool";
const PASSWORD: &str = "s3cret-pw";
/// How long the child process may take.
const PATIENCE: Duration = Duration::from_secs(60);

static CERTIFICATES: OnceLock<Certificates> = OnceLock::new();

static CLUSTER: LazyLock<Cluster> = LazyLock::new(|| {
    let cluster = cachetool_test_harness::tls::cluster(CERTIFICATES.get().expect("made in main"));
    for node in &cluster.nodes {
        let user = format!("ACL SETUSER {USER} on >{PASSWORD} ~* &* +@all\r\n");
        assert!(node.raw(user.as_bytes()).starts_with(b"+OK"));
        assert!(node.raw(b"ACL SETUSER default off\r\n").starts_with(b"+OK"));
    }
    cluster
});

/// Set in a child process of this binary: the URL it reads from, without
/// the test CA among its roots.
const UNTRUSTED_CHILD: &str = "CACHETOOL_TLS_CLUSTER_UNTRUSTED";

fn main() {
    let conclusion =
        cachetool_test_harness::child::main_or_child(UNTRUSTED_CHILD, untrusted_child, || {
            let certificates = Certificates::new("cluster");
            // Before any other thread runs (a process's environment is not safe
            // to change while threads may read it).
            std::env::set_var("SSL_CERT_FILE", certificates.ca());
            let _ = CERTIFICATES.set(certificates);
            trials()
        });
    if let Some(certificates) = CERTIFICATES.get() {
        let _ = std::fs::remove_dir_all(certificates.dir());
    }
    conclusion.exit();
}

fn trials() -> Vec<Trial> {
    #[cfg_attr(not(feature = "tokio"), allow(unused_mut))]
    let mut trials = vec![
        Trial::test(
            "rediss_cluster_with_a_user_and_password_reaches_every_node",
            || reaches_every_node(&CLUSTER.tls_url(&format!("{USER}:{PASSWORD}@"))),
        ),
        Trial::test(
            "redis_cluster_with_a_user_and_password_reaches_every_node",
            || reaches_every_node(&plain_url(&format!("{USER}:{PASSWORD}@"))),
        ),
        Trial::test(
            "rediss_cluster_rejects_a_certificate_of_an_untrusted_ca",
            || untrusted(&CLUSTER.tls_url(&format!("{USER}:{PASSWORD}@"))),
        ),
        Trial::test(
            "a_cluster_url_takes_no_insecure_fragment",
            insecure_is_refused,
        ),
        Trial::test(
            "a_wrong_password_on_a_cluster_is_an_authentication_error",
            || {
                wrong_password(&plain_url(&format!("{USER}:wrong-pw@")))?;
                wrong_password(&CLUSTER.tls_url(&format!("{USER}:wrong-pw@")))
            },
        ),
    ];
    #[cfg(feature = "tokio")]
    trials.push(Trial::test(
        "rediss_cluster_with_a_user_and_password_reaches_every_node_async",
        || reaches_every_node_async(&CLUSTER.tls_url(&format!("{USER}:{PASSWORD}@"))),
    ));
    trials
}

/// `redis+cluster://{userinfo}` on the nodes' plain ports.
fn plain_url(userinfo: &str) -> String {
    CLUSTER.url().replacen("://", &format!("://{userinfo}"), 1)
}

/// Keys enough that, by their hash slots, every node holds some.
fn keys(cache: &Cache) -> Vec<String> {
    (0..30)
        .map(|n| format!("{}:entry:f:{n}", cache.prefix()))
        .collect()
}

fn cache(url: &str) -> Cache {
    Cache::builder()
        .redis(url)
        .unwrap()
        .prefix(support::unique_prefix("tls-cluster"))
        .build()
        .unwrap()
}

/// Each node's number of `cache`'s keys, read on its plain port as the user.
fn keys_per_node(cache: &Cache) -> Vec<usize> {
    CLUSTER
        .nodes
        .iter()
        .map(|node| {
            let url = format!("redis://{USER}:{PASSWORD}@{}/", node.address());
            let mut conn = redis::Client::open(url)
                .unwrap()
                .get_connection_with_timeout(Duration::from_secs(5))
                .unwrap();
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}:*", cache.prefix()))
                .query(&mut conn)
                .unwrap();
            keys.len()
        })
        .collect()
}

fn check_values(keys: &[String], values: &[Option<cachetool::Value>]) -> Result<(), Failed> {
    for (key, value) in keys.iter().zip(values) {
        let read = value.as_ref().and_then(|value| value.as_bytes());
        if read != Some(key.as_bytes()) {
            return Err(format!("{key} read back as {read:?}").into());
        }
    }
    Ok(())
}

/// Stores keys on every node through `url` and reads them back, sync.
fn reaches_every_node(url: &str) -> Result<(), Failed> {
    let cache = cache(url);
    let keys = keys(&cache);
    for key in &keys {
        cache
            .backend()
            .set(key, key.as_bytes().to_vec().into(), None)
            .map_err(|error| format!("set through {url}: {error}"))?;
    }
    let names: Vec<&str> = keys.iter().map(String::as_str).collect();
    let values = cache.backend().get_many(&names)?;
    check_values(&keys, &values)?;
    let per_node = keys_per_node(&cache);
    if per_node.iter().sum::<usize>() != keys.len() || per_node.contains(&0) {
        return Err(format!("keys per node: {per_node:?}").into());
    }
    let stats = cache.server_stats()?;
    if stats.servers != 3 {
        return Err(format!("server stats of {} nodes, not 3", stats.servers).into());
    }
    Ok(())
}

/// The same through the async connection.
#[cfg(feature = "tokio")]
fn reaches_every_node_async(url: &str) -> Result<(), Failed> {
    let cache = cache(url);
    let keys = keys(&cache);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let aio = cache.backend().as_async().expect("an async backend");
    runtime.block_on(async {
        for key in &keys {
            aio.set(key, key.as_bytes().to_vec().into(), None)
                .await
                .map_err(|error| format!("async set through {url}: {error}"))?;
        }
        let names: Vec<&str> = keys.iter().map(String::as_str).collect();
        let values = aio.get_many(&names).await?;
        check_values(&keys, &values)
    })?;
    let per_node = keys_per_node(&cache);
    if per_node.iter().sum::<usize>() != keys.len() || per_node.contains(&0) {
        return Err(format!("keys per node: {per_node:?}").into());
    }
    Ok(())
}

/// The same URL in a process whose roots are the system's (no
/// `SSL_CERT_FILE`): the certificate is refused, and the error says so.
fn untrusted(url: &str) -> Result<(), Failed> {
    let mut child = cachetool_test_harness::child::this_binary(UNTRUSTED_CHILD, url)
        .env_remove("SSL_CERT_FILE")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|error| format!("spawn the child: {error}"))?;
    // Its few lines fit in the pipe: it exits without their being read.
    let status = cachetool_test_harness::child::wait_until(&mut child, Instant::now() + PATIENCE)?;
    let mut said = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .map_err(|error| error.to_string())?;
    if !status.success() {
        return Err(format!("the child failed ({status}): {said}").into());
    }
    // The summary, as for one server, then each node's rejection as rustls
    // words it.
    let summary = "TLS failed: the server's certificate was rejected";
    if !(said.contains(summary) && said.contains("invalid peer certificate: UnknownIssuer")) {
        return Err(format!("not said to be a rejected certificate: {said}").into());
    }
    Ok(())
}

/// The child's part: prints the error of a read through `url`.
fn untrusted_child(url: &str) {
    match cache(url).backend().get_many(&["k"]) {
        Ok(_) => println!("a certificate of an untrusted CA was accepted"),
        Err(error) => println!("{error}"),
    }
}

/// `#insecure` is for one server (`rediss://host/#insecure`): a cluster URL
/// with it, at its end or after a node, is a configuration error (the README
/// says to trust the CA instead).
fn insecure_is_refused() -> Result<(), Failed> {
    for url in [
        "rediss+cluster://127.0.0.1:1,127.0.0.1:2/#insecure",
        "rediss+cluster://127.0.0.1:1,127.0.0.1:2#insecure",
    ] {
        match Cache::builder().redis(url) {
            Ok(_) => return Err(format!("{url} was accepted").into()),
            Err(error) if error.kind() == ErrorKind::Config => {
                let text = error.to_string();
                if !(text.contains("is not valid") && text.contains("#insecure is for one server"))
                {
                    return Err(format!("{url}: {text}").into());
                }
            }
            Err(error) => return Err(format!("{url}: not a Config error: {error}").into()),
        }
    }
    Ok(())
}

/// A read through `url` (a wrong password) fails as an authentication
/// failure, naming neither the password nor hiding what failed.
fn wrong_password(url: &str) -> Result<(), Failed> {
    let error = match cache(url).backend().get_many(&["k"]) {
        Ok(_) => return Err(format!("{url}: a wrong password was accepted").into()),
        Err(error) => error,
    };
    let text = error.to_string();
    if error.kind() != ErrorKind::Backend {
        return Err(format!("{url}: {:?}, not a backend error: {text}", error.kind()).into());
    }
    if text.contains("wrong-pw") {
        return Err(format!("the password shows in the error: {text}").into());
    }
    if !text.contains("Password authentication failed") {
        return Err(format!("{url}: not said to be an authentication failure: {text}").into());
    }
    Ok(())
}
