//! `stats`: the servers' own counters, the entries of each function, the tags.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use cachetool_runtime::admin::{self, KeyKind};
use cachetool_runtime::Cache;
use serde_json::json;

use super::scan::scan;
use crate::cli::Cli;
use crate::failure::Outcome;
use crate::output;

/// What a scan of the prefix counted.
#[derive(Default)]
struct Counts {
    functions: BTreeMap<String, u64>,
    tags: u64,
    locks: u64,
    epoch: bool,
    hashed: u64,
    other: u64,
}

pub(super) fn run(cli: &Cli, cache: &Cache) -> Outcome {
    let server = cache.server_stats()?;
    let prefix = cache.prefix();
    let mut counts = Counts::default();
    scan(
        cache,
        cli.json,
        "counting keys",
        &format!("{prefix}:"),
        |key| {
            match admin::classify(prefix, key) {
                KeyKind::Entry { function, .. } => {
                    *counts.functions.entry(function.to_owned()).or_default() += 1;
                }
                KeyKind::Tag { .. } => counts.tags += 1,
                KeyKind::Lock { .. } => counts.locks += 1,
                KeyKind::Epoch => counts.epoch = true,
                KeyKind::Hashed => counts.hashed += 1,
                _ => counts.other += 1,
            }
            ControlFlow::Continue(())
        },
    )?;
    let entries: u64 = counts.functions.values().sum();
    if cli.json {
        output::json(&json!({
            "prefix": prefix,
            "backend": cache.backend().name(),
            "server": {
                "servers": server.servers,
                "hits": server.hits,
                "misses": server.misses,
                "hit_rate": server.hit_rate(),
                "items": server.items,
                "memory_bytes": server.memory_bytes,
            },
            "entries": entries,
            "functions": counts.functions,
            "tags": counts.tags,
            "locks": counts.locks,
            "epoch": counts.epoch,
            "hashed_keys": counts.hashed,
            "other_keys": counts.other,
        }));
        return Ok(());
    }
    let mut rows = vec![
        vec![
            "backend".into(),
            format!(
                "{} ({} server{})",
                cache.backend().name(),
                server.servers,
                if server.servers == 1 { "" } else { "s" }
            ),
        ],
        vec![
            "server".into(),
            format!(
                "{} hits, {} misses ({:.1}% hits), {} items, {}",
                server.hits,
                server.misses,
                server.hit_rate() * 100.0,
                server.items,
                output::bytes(server.memory_bytes)
            ),
        ],
        vec!["prefix".into(), prefix.to_owned()],
        vec!["entries".into(), entries.to_string()],
    ];
    rows.extend(
        counts
            .functions
            .iter()
            .map(|(function, count)| vec![format!("  {function}"), count.to_string()]),
    );
    rows.push(vec!["tags".into(), counts.tags.to_string()]);
    rows.push(vec!["locks".into(), counts.locks.to_string()]);
    rows.push(vec![
        "epoch".into(),
        if counts.epoch { "set" } else { "none yet" }.into(),
    ]);
    if counts.hashed > 0 {
        rows.push(vec!["hashed keys".into(), counts.hashed.to_string()]);
    }
    if counts.other > 0 {
        rows.push(vec!["other keys".into(), counts.other.to_string()]);
    }
    output::table(&rows);
    Ok(())
}
