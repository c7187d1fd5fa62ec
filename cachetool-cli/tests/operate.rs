//! The built `cachetool` against real servers: data written through
//! `#[cached]` in this process is listed, counted, decoded, invalidated and
//! cleaned by the command, and the next call recomputes. On Redis, on a
//! 3-node Redis Cluster and on two Memcached servers.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use cachetool::{cached, Cache};
use cachetool_test_harness::{Kind, Server};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use support::{cachetool, Run};

/// The tests share the functions below, which use the cache in `CURRENT`: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());
static CURRENT: Mutex<Option<&'static Cache>> = Mutex::new(None);
static USER_LOADS: AtomicUsize = AtomicUsize::new(0);
static TOTAL_LOADS: AtomicUsize = AtomicUsize::new(0);

fn current() -> &'static Cache {
    CURRENT.lock().unwrap().expect("the test sets the cache")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    roles: Vec<String>,
}

#[cached(cache = current(), tags = ["users", format!("user:{id}")], ttl = 600)]
fn load_user(id: u64, lang: &str) -> User {
    USER_LOADS.fetch_add(1, SeqCst);
    User {
        id,
        name: format!("user {id} ({lang})"),
        roles: vec!["reader".into()],
    }
}

#[cached(cache = current(), tags = ["orders"])]
fn order_total(items: HashMap<String, u32>, discount: f64) -> u64 {
    TOTAL_LOADS.fetch_add(1, SeqCst);
    (items.values().sum::<u32>() as f64 * (1.0 - discount)) as u64
}

fn path(function: &str) -> String {
    format!("{}.{function}", module_path!())
}

/// Runs the command against the test's cache, with `--json` first.
struct Command {
    url: String,
    prefix: String,
}

impl Command {
    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--url", &self.url, "--prefix", &self.prefix];
        all.extend_from_slice(args);
        cachetool(&all)
    }

    fn json(&self, args: &[&str]) -> Json {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.run(&all).json()
    }

    /// The entry key the command builds for `function` and `args`.
    fn key(&self, function: &str, args: &str) -> String {
        let key = self.json(&["key", function, "--args", args]);
        key["key"].as_str().unwrap().to_owned()
    }

    /// The entry keys `keys` lists, for one function or all.
    fn entries(&self, function: Option<&str>) -> BTreeSet<String> {
        let mut args = vec!["keys"];
        if let Some(function) = function {
            args.extend(["--function", function]);
        }
        self.json(&args)
            .as_array()
            .unwrap()
            .iter()
            .filter(|key| key["kind"] == "entry")
            .map(|key| key["key"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// The whole story on one backend, with users 1 to `users` loaded (at least
/// 8: the story reads users 7 and 8; more spread keys over every server).
fn operate(url: &str, users: u64) {
    assert!(users >= 8);
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let prefix = support::unique_prefix("cli");
    let cache = Cache::builder()
        .url(url)
        .unwrap()
        .prefix(&prefix)
        .build()
        .unwrap();
    *CURRENT.lock().unwrap() = Some(Box::leak(Box::new(cache)));
    USER_LOADS.store(0, SeqCst);
    TOTAL_LOADS.store(0, SeqCst);
    let command = Command {
        url: url.to_owned(),
        prefix: prefix.clone(),
    };

    for id in 1..=users {
        load_user(id, "en");
    }
    let items = HashMap::from([("a".to_string(), 2), ("b".to_string(), 3)]);
    assert_eq!(order_total(items.clone(), 0.5), 2);
    assert_eq!(
        (USER_LOADS.load(SeqCst), TOTAL_LOADS.load(SeqCst)),
        (users as usize, 1)
    );

    // keys: every entry, under the keys the command builds from JSON arguments.
    let user_7 = command.key(&path("load_user").replace('.', "::"), "[7, \"en\"]");
    let user_8 = command.key(&path("load_user"), "[8, \"en\"]");
    let total = command.key(&path("order_total"), "[{\"b\": 3, \"a\": 2}, 0.5]");
    let entries = command.entries(None);
    assert_eq!(entries.len(), users as usize + 1, "{entries:?}");
    assert!(
        entries.contains(&user_7) && entries.contains(&user_8),
        "{user_7} in {entries:?}"
    );
    assert!(entries.contains(&total), "{total} in {entries:?}");
    assert_eq!(
        command.entries(Some(&path("load_user"))).len(),
        users as usize
    );
    assert_eq!(
        command.entries(Some(&path("order_total"))),
        BTreeSet::from([total.clone()])
    );
    let limited = command.json(&["keys", "--limit", "3"]);
    assert_eq!(limited.as_array().unwrap().len(), 3);
    let listed = command.json(&["keys"]);
    let kinds: BTreeSet<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["entry", "epoch", "tag"]));
    let human = command.run(&["keys"]);
    assert_eq!(human.code, 0, "{human:?}");
    assert_eq!(
        human.stderr, "",
        "no progress line when stderr is not a terminal"
    );
    assert!(
        human
            .stdout
            .lines()
            .any(|line| line.starts_with("entry") && line.ends_with(&user_7)),
        "{human:?}"
    );

    // stats: entries per function, tags.
    let stats = command.json(&["stats"]);
    assert_eq!(stats["entries"], users + 1);
    assert_eq!(stats["functions"][path("load_user")], users);
    assert_eq!(stats["functions"][path("order_total")], 1);
    assert_eq!(
        stats["tags"],
        users + 2,
        "users, orders and user:N: {stats}"
    );
    assert_eq!(stats["epoch"], true);
    assert!(stats["server"]["servers"].as_u64().unwrap() >= 1);
    assert_eq!(command.run(&["stats"]).code, 0);

    // get: function, tags with their currency, expiry, size, value.
    let entry = command.json(&["get", &user_7]);
    assert_eq!(entry["kind"], "entry");
    assert_eq!(entry["function"], path("load_user"));
    assert_eq!(entry["current"], true);
    assert_eq!(
        entry["value"],
        json!({"id": 7, "name": "user 7 (en)", "roles": ["reader"]})
    );
    assert_eq!(entry["epoch"]["current"], true);
    let tags: Vec<(&str, bool)> = entry["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| (tag["tag"].as_str().unwrap_or("?"), tag["current"] == true))
        .collect();
    assert_eq!(tags, [("users", true), ("user:7", true)]);
    let expires = entry["expires_in_ms"].as_u64().expect("a ttl of 600 s");
    assert!(expires > 500_000 && expires <= 600_000, "{entry}");
    assert!(entry["size"].as_u64().unwrap() > entry["value_size"].as_u64().unwrap());
    let total_entry = command.json(&["get", &total]);
    assert_eq!(total_entry["value"], 2);
    assert_eq!(total_entry["expires_in_ms"], Json::Null, "no ttl");
    let human = command.run(&["get", &user_7]);
    assert!(
        human.stdout.contains("value, current") && human.stdout.contains("user 7 (en)"),
        "{human:?}"
    );
    let tag = command.json(&["get", &format!("{prefix}:tag:user:7")]);
    assert_eq!(
        (tag["kind"].as_str(), tag["tag"].as_str()),
        (Some("tag"), Some("user:7"))
    );

    // invalidate: a tombstone under exactly that key; the next call recomputes.
    let invalidated = command.json(&["invalidate", &path("load_user"), "--args", "[7, \"en\"]"]);
    assert_eq!(
        invalidated,
        json!({"invalidated": user_7, "held_a_value": true})
    );
    assert_eq!(command.json(&["get", &user_7])["kind"], "tombstone");
    load_user(7, "en");
    load_user(8, "en");
    assert_eq!(
        USER_LOADS.load(SeqCst),
        users as usize + 1,
        "7 recomputed, 8 a hit"
    );
    let invalidated = command.json(&[
        "invalidate",
        &path("order_total"),
        "--args",
        "[{\"a\": 2, \"b\": 3}, 0.5]",
    ]);
    assert_eq!(invalidated["held_a_value"], true);
    assert_eq!(order_total(items.clone(), 0.5), 2);
    assert_eq!(TOTAL_LOADS.load(SeqCst), 2);

    // clean: the tag's entries are no longer current; the next call recomputes.
    let cleaned = command.json(&["clean", "user:8"]);
    assert_eq!(cleaned["cleaned_tags"], json!(["user:8"]));
    let stale = command.json(&["get", &user_8]);
    assert_eq!(stale["current"], false);
    assert_eq!(stale["tags"][1]["current"], false);
    assert_eq!(
        stale["tags"][1]["tag"],
        Json::Null,
        "a cleaned tag has no key left to name it"
    );
    load_user(8, "en");
    load_user(7, "en");
    assert_eq!(
        USER_LOADS.load(SeqCst),
        users as usize + 2,
        "8 recomputed, 7 a hit"
    );

    // clean-all: a new epoch; every function recomputes.
    assert_eq!(command.json(&["clean-all"])["cleaned_all"], true);
    assert_eq!(command.json(&["get", &user_7])["epoch"]["current"], false);
    load_user(7, "en");
    assert_eq!(order_total(items, 0.5), 2);
    assert_eq!(
        (USER_LOADS.load(SeqCst), TOTAL_LOADS.load(SeqCst)),
        (users as usize + 3, 3)
    );

    // Operational errors: one line, status 1; usage errors: status 2.
    let missing = command.run(&["get", &format!("{prefix}:entry:nothing:here")]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert_eq!(missing.stderr.lines().count(), 1, "{missing:?}");
    let foreign = format!("{prefix}:foreign");
    current()
        .backend()
        .set(&foreign, b"not an entry".to_vec().into(), None)
        .unwrap();
    let not_entry = command.run(&["get", &foreign]);
    assert_eq!(not_entry.code, 1, "{not_entry:?}");
    assert!(
        not_entry.stderr.contains("not a cachetool entry"),
        "{not_entry:?}"
    );
    let refused = command.run(&["invalidate", &path("load_user"), "--args", "[{\"7\": 1}]"]);
    assert_eq!(refused.code, 2, "{refused:?}");
}

#[test]
fn on_redis() {
    let server = Server::start(Kind::Redis);
    operate(&server.url(), 10);
}

#[test]
fn on_two_memcached_servers() {
    let (first, second) = (
        Server::start(Kind::Memcached),
        Server::start(Kind::Memcached),
    );
    let url = format!("memcache://{},{}", first.address(), second.address());
    operate(&url, 40);
    // The listing came from both servers.
    let backend = cachetool::MemcachedBackend::open(&url, &Default::default()).unwrap();
    let prefix_of_last = current().prefix().to_owned();
    let listed = cachetool(&["--json", "--url", &url, "--prefix", &prefix_of_last, "keys"]).json();
    let servers: BTreeSet<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|key| backend.server_of(key["key"].as_str().unwrap()))
        .collect();
    assert_eq!(servers.len(), 2, "keys from both servers: {servers:?}");
}

#[test]
fn on_a_redis_cluster() {
    let cluster = cachetool_test_harness::cluster::Cluster::start();
    // 40 users: their keys fall in slots of every node.
    operate(&cluster.url(), 40);
}

#[test]
fn usage_and_operational_errors_have_their_exit_status() {
    let no_url = cachetool(&["stats"]);
    assert_eq!(no_url.code, 2, "{no_url:?}");
    assert!(no_url.stderr.contains("CACHETOOL_URL"), "{no_url:?}");
    assert_eq!(cachetool(&["no-such-command"]).code, 2);
    assert_eq!(
        cachetool(&["clean", "--url", "redis://127.0.0.1:1/"]).code,
        2,
        "no tags"
    );
    assert_eq!(cachetool(&["--help"]).code, 0);

    let bad_url = cachetool(&["--url", "postgres://127.0.0.1/", "stats"]);
    assert_eq!(bad_url.code, 1, "{bad_url:?}");
    assert_eq!(bad_url.stderr.lines().count(), 1, "{bad_url:?}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for url in [
        format!("redis://127.0.0.1:{port}/"),
        format!("memcache://127.0.0.1:{port}"),
    ] {
        let down = cachetool(&["--url", &url, "--timeout", "2", "keys"]);
        assert_eq!(down.code, 1, "{down:?}");
        assert_eq!(down.stderr.lines().count(), 1, "{down:?}");
        assert!(
            down.stderr.contains(&format!("127.0.0.1:{port}")),
            "{down:?}"
        );
    }

    // The URL from the environment.
    let port_url = format!("redis://127.0.0.1:{port}/");
    let from_env = support::cachetool_with_env(&["clean-all"], &[("CACHETOOL_URL", &port_url)]);
    assert_eq!(from_env.code, 1, "it tried that server: {from_env:?}");
    assert!(
        from_env.stderr.contains(&format!("127.0.0.1:{port}")),
        "{from_env:?}"
    );
}
