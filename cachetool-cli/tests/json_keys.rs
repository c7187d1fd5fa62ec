//! `cachetool key FUNCTION --args JSON` builds the very key `#[cached]`
//! stores the entry of the same Rust arguments under: for integers, strings,
//! booleans, floats, sequences, maps, structs, enums and null. (On Redis,
//! whose entries are under string keys; the memory backend keys by hash.)

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use cachetool::{cached, Cache};
use cachetool_test_harness::{Kind, Server};
use serde::Serialize;
use support::cachetool;

static SERVER: LazyLock<Server> = LazyLock::new(|| Server::start(Kind::Redis));
static CACHE: LazyLock<Cache> = LazyLock::new(|| {
    Cache::builder()
        .prefix("json-keys")
        .url(&SERVER.url())
        .and_then(|builder| builder.build())
        .expect("a cache on the test's redis-server")
});

#[derive(Serialize)]
struct Query {
    page: u32,
    filter: Option<String>,
    weights: Vec<f32>,
}

#[derive(Serialize)]
enum Scope {
    All,
    Team(u64),
    Range { from: i64, to: i64 },
}

#[cached(cache = CACHE)]
fn scalars(a: u8, b: i64, c: f64, d: String, e: bool, f: char) -> u8 {
    let _ = (b, c, d, e, f);
    a
}

#[cached(cache = CACHE)]
fn collections(
    list: Vec<u32>,
    nested: Vec<Vec<i16>>,
    pair: (u8, String),
    map: HashMap<String, Vec<f64>>,
) -> usize {
    list.len() + nested.len() + pair.1.len() + map.len()
}

#[cached(cache = CACHE)]
fn optional(a: Option<u32>, b: Option<u32>, unit: ()) -> u32 {
    let () = unit;
    a.or(b).unwrap_or(0)
}

#[cached(cache = CACHE)]
fn structured(query: Query, scope: Scope, other: Scope, all: Scope) -> u32 {
    let _ = (scope, other, all);
    query.page
}

/// Stands for a connection: skipped, so not in the key nor in `--args`.
struct Db;

#[cached(cache = CACHE, skip(db))]
fn numbered(db: &Db, names: BTreeMap<u64, String>, small: f32, label: &str) -> usize {
    let _ = (db, label);
    names.len() + small as usize
}

/// The key the command prints for `function` and `args`.
fn key(function: &str, args: &str) -> String {
    let function = format!("json_keys::{function}");
    let run = cachetool(&["--prefix", "json-keys", "key", &function, "--args", args]);
    assert_eq!(run.code, 0, "{run:?}");
    run.stdout.trim().to_owned()
}

/// Whether the cache holds an entry under `key`.
fn stored(key: &str) -> bool {
    CACHE.backend().get_many(&[key]).unwrap()[0].is_some()
}

#[test]
fn the_command_keys_json_arguments_as_the_macro_keys_rust_ones() {
    scalars(7, -3, 0.1, "user:7".into(), true, 'x');
    let key_of = key("scalars", r#"[7, -3, 0.1, "user:7", true, "x"]"#);
    assert!(stored(&key_of), "{key_of}");
    assert!(!stored(&key(
        "scalars",
        r#"[7, -3, 0.1, "user:7", false, "x"]"#
    )));
    assert!(!stored(&key(
        "scalars",
        r#"[7, -3, 0.10000000000000002, "user:7", true, "x"]"#
    )));

    collections(
        vec![1, 2, 3],
        vec![vec![-1], vec![]],
        (9, "nine".into()),
        HashMap::from([("b".into(), vec![1.5]), ("a".into(), vec![])]),
    );
    let key_of = key(
        "collections",
        r#"[[1, 2, 3], [[-1], []], [9, "nine"], {"a": [], "b": [1.5]}]"#,
    );
    assert!(stored(&key_of), "{key_of}");

    optional(None, Some(4), ());
    assert!(stored(&key("optional", "[null, 4, null]")));

    structured(
        Query {
            page: 2,
            filter: None,
            weights: vec![0.5, 0.1],
        },
        Scope::Team(12),
        Scope::Range { from: -5, to: 5 },
        Scope::All,
    );
    let key_of = key(
        "structured",
        r#"[{"weights": [0.5, 0.10000000149011612], "filter": null, "page": 2},
            {"Team": 12}, {"Range": {"to": 5, "from": -5}}, "All"]"#,
    );
    assert!(stored(&key_of), "{key_of}");

    numbered(
        &Db,
        BTreeMap::from([(3, "three".into()), (1, "one".into())]),
        2.25,
        "label",
    );
    let key_of = key(
        "numbered",
        r#"[{"$map": [[1, "one"], [3, "three"]]}, 2.25, "label"]"#,
    );
    assert!(stored(&key_of), "{key_of}");
}
