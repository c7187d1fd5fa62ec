//! `keys [--function F] [--limit N]`: the keys of the prefix.

use std::ops::ControlFlow;

use cachetool_runtime::admin::{self, KeyKind};
use cachetool_runtime::Cache;
use serde_json::{json, Value as Json};

use super::scan::scan;
use crate::cli::Cli;
use crate::failure::{Failure, Outcome};
use crate::output;

pub(super) fn run(
    cli: &Cli,
    cache: &Cache,
    function: Option<&str>,
    limit: Option<usize>,
) -> Outcome {
    if limit == Some(0) {
        return Err(Failure::usage("--limit must be at least 1"));
    }
    let prefix = cache.prefix();
    let starting_with = match function {
        Some(function) => format!("{prefix}:entry:{}:", admin::function_path(function)),
        None => format!("{prefix}:"),
    };
    let mut keys: Vec<Json> = Vec::new();
    let mut limited = false;
    scan(cache, cli.json, "listing keys", &starting_with, |key| {
        if limit.is_some_and(|limit| keys.len() >= limit) {
            limited = true;
            return ControlFlow::Break(());
        }
        keys.push(describe(prefix, key));
        ControlFlow::Continue(())
    })?;
    if cli.json {
        output::json(&Json::Array(keys));
        return Ok(());
    }
    let mut rows = vec![vec![
        "KIND".to_owned(),
        "FUNCTION".to_owned(),
        "KEY".to_owned(),
    ]];
    rows.extend(keys.iter().map(|key| {
        let text = |field: &str| key[field].as_str().unwrap_or("-").to_owned();
        vec![text("kind"), text("function"), text("key")]
    }));
    output::table(&rows);
    if limited {
        eprintln!("(stopped at --limit {})", limit.unwrap_or_default());
    }
    Ok(())
}

/// A key, its kind and function, as JSON.
fn describe(prefix: &str, key: &str) -> Json {
    match admin::classify(prefix, key) {
        KeyKind::Entry { function, .. } => {
            json!({"key": key, "kind": "entry", "function": function})
        }
        KeyKind::Lock { function, .. } => json!({"key": key, "kind": "lock", "function": function}),
        KeyKind::Tag { name } => json!({"key": key, "kind": "tag", "tag": name}),
        KeyKind::Epoch => json!({"key": key, "kind": "epoch"}),
        KeyKind::Hashed => json!({"key": key, "kind": "hashed"}),
        _ => json!({"key": key, "kind": "other"}),
    }
}
