//! `get KEY`: what is under a key. For an entry: its function, its tags and
//! whether each version is current, its expiry, size and value as JSON.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cachetool_runtime::admin::{self, Envelope, KeyKind, Stored};
use cachetool_runtime::Cache;
use serde_json::{json, Value as Json};

use super::scan::scan;
use crate::cbor_json::{hex, to_json};
use crate::cli::Cli;
use crate::failure::{Failure, Outcome};
use crate::output;

/// Tag keys read per request while naming an entry's tag versions.
const TAG_BATCH: usize = 100;

pub(super) fn run(cli: &Cli, cache: &Cache, key: &str) -> Outcome {
    let stored = admin::inspect(cache, key)?
        .ok_or_else(|| Failure::operation(format!("no key {key:?} on the server")))?;
    let prefix = cache.prefix();
    let report = match admin::classify(prefix, key) {
        KeyKind::Tag { name } => version_key(key, "tag", Some(name), &stored),
        KeyKind::Epoch => version_key(key, "epoch", None, &stored),
        KeyKind::Lock { function, .. } => json!({
            "key": key,
            "kind": "lock",
            "function": function,
            "token": String::from_utf8_lossy(&stored.bytes),
            "expires_in_ms": stored.ttl.map(|ttl| ttl.as_millis() as u64),
        }),
        kind => {
            let function = match kind {
                KeyKind::Entry { function, .. } => Some(function),
                _ => None,
            };
            let envelope = Envelope::parse(&stored.bytes).ok_or_else(|| {
                Failure::operation(format!(
                    "{key:?} holds {} bytes that are not a cachetool entry",
                    stored.bytes.len()
                ))
            })?;
            entry(cli, cache, key, function, &stored, &envelope)?
        }
    };
    match cli.json {
        true => output::json(&report),
        false => print(&report),
    }
    Ok(())
}

/// A tag's or the epoch's key: the version it stands for.
fn version_key(key: &str, kind: &str, tag: Option<&str>, stored: &Stored) -> Json {
    json!({
        "key": key,
        "kind": kind,
        "tag": tag,
        "stored": String::from_utf8_lossy(&stored.bytes),
        "version": format!("{:016x}", admin::version_of(&stored.bytes)),
    })
}

/// An entry: its envelope, with each version checked against its key now.
fn entry(
    cli: &Cli,
    cache: &Cache,
    key: &str,
    function: Option<&str>,
    stored: &Stored,
    envelope: &Envelope<'_>,
) -> Outcome<Json> {
    let prefix = cache.prefix();
    let epoch_now = admin::inspect(cache, &format!("{prefix}:epoch"))?
        .map(|epoch| admin::version_of(&epoch.bytes));
    let mut versions = envelope.versions.iter();
    let epoch = versions.next().map(|&version| {
        json!({ "version": format!("{version:016x}"), "current": epoch_now == Some(version) })
    });
    let tag_versions: Vec<u64> = versions.copied().collect();
    let tags_now = match tag_versions.is_empty() {
        true => HashMap::new(),
        false => tags_by_version(cli, cache)?,
    };
    let tags: Vec<Json> = tag_versions
        .iter()
        .map(|version| {
            let name = tags_now.get(version);
            json!({ "tag": name, "version": format!("{version:016x}"), "current": name.is_some() })
        })
        .collect();
    let current = !envelope.tombstone
        && epoch.as_ref().is_some_and(|epoch| epoch["current"] == true)
        && tags.iter().all(|tag| tag["current"] == true);
    let value = match envelope.tombstone {
        true => Json::Null,
        false => match ciborium::from_reader::<ciborium::Value, _>(envelope.value) {
            Ok(value) => to_json(&value),
            Err(error) => json!({ "$undecodable": error.to_string() }),
        },
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| now.as_millis() as u64);
    Ok(json!({
        "key": key,
        "kind": if envelope.tombstone { "tombstone" } else { "entry" },
        "function": function,
        "current": current,
        "created_unix_ms": envelope.created_unix_ms,
        "created": output::utc(envelope.created_unix_ms),
        "age_ms": now_ms.saturating_sub(envelope.created_unix_ms),
        "expires_in_ms": stored.ttl.map(|ttl| ttl.as_millis() as u64),
        // Null for an entry that is always fresh; the server may keep an
        // entry past its freshness (for `fail_safe`).
        "fresh_until_unix_ms": (envelope.fresh_until_unix_ms != 0).then_some(envelope.fresh_until_unix_ms),
        "size": stored.bytes.len(),
        "value_size": envelope.value.len(),
        "type_fingerprint": format!("{:016x}", envelope.type_fingerprint),
        "epoch": epoch,
        "tags": tags,
        "value": value,
        "value_cbor": hex(envelope.value),
    }))
}

/// The tags of the prefix by the version each stands for now: entries hold
/// their tags' versions, not their names, so a version is named by the tag
/// key that holds it now (one that none holds was cleaned or evicted).
fn tags_by_version(cli: &Cli, cache: &Cache) -> Outcome<HashMap<u64, String>> {
    let prefix = cache.prefix();
    let mut names = Vec::new();
    scan(
        cache,
        cli.json,
        "reading tags",
        &format!("{prefix}:tag:"),
        |key| {
            if let KeyKind::Tag { name } = admin::classify(prefix, key) {
                names.push(name.to_owned());
            }
            ControlFlow::Continue(())
        },
    )?;
    let mut by_version = HashMap::new();
    for batch in names.chunks(TAG_BATCH) {
        let keys: Vec<String> = batch
            .iter()
            .map(|name| admin::tag_key(prefix, name))
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let values = cache.backend().get_many(&keys)?;
        for (name, value) in batch.iter().zip(values) {
            if let Some(bytes) = value.as_ref().and_then(|value| value.as_bytes()) {
                by_version.insert(admin::version_of(bytes), name.clone());
            }
        }
    }
    Ok(by_version)
}

/// The report for people.
fn print(report: &Json) {
    let text = |field: &str| match &report[field] {
        Json::String(text) => text.clone(),
        Json::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let mut rows = vec![vec!["key".to_owned(), text("key")]];
    match report["kind"].as_str() {
        Some("entry" | "tombstone") => {
            rows.push(vec!["function".into(), text("function")]);
            let state = match (report["kind"].as_str(), report["current"] == true) {
                (Some("tombstone"), _) => "tombstone (left by an invalidation; reads as a miss)",
                (_, true) => "value, current (a hit)",
                (_, false) => "value, not current (a miss: computed under versions since changed)",
            };
            rows.push(vec!["kind".into(), state.into()]);
            let age = Duration::from_millis(report["age_ms"].as_u64().unwrap_or(0));
            rows.push(vec![
                "created".into(),
                format!("{} ({} ago)", text("created"), output::duration(age)),
            ]);
            let expires = match report["expires_in_ms"].as_u64() {
                Some(ms) => format!("in {}", output::duration(Duration::from_millis(ms))),
                None => "never".into(),
            };
            rows.push(vec!["expires".into(), expires]);
            rows.push(vec![
                "size".into(),
                format!("{} bytes ({} of value)", text("size"), text("value_size")),
            ]);
            rows.push(vec![
                "type".into(),
                format!("fingerprint {}", text("type_fingerprint")),
            ]);
            if let Some(epoch) = report["epoch"].as_object() {
                let current = if epoch["current"] == true {
                    "current"
                } else {
                    "not current (clean_all since)"
                };
                rows.push(vec!["epoch".into(), current.into()]);
            }
            for tag in report["tags"].as_array().into_iter().flatten() {
                let line = match tag["tag"].as_str() {
                    Some(name) => format!("{name}, current"),
                    None => format!(
                        "version {}, not current (cleaned or evicted since)",
                        tag["version"].as_str().unwrap_or("")
                    ),
                };
                rows.push(vec!["tag".into(), line]);
            }
            if report["kind"] == "entry" {
                rows.push(vec!["value".into(), report["value"].to_string()]);
            }
        }
        Some("lock") => {
            rows.push(vec![
                "kind".into(),
                "lock (a computation in progress)".into(),
            ]);
            rows.push(vec!["function".into(), text("function")]);
            rows.push(vec!["token".into(), text("token")]);
            let expires = report["expires_in_ms"]
                .as_u64()
                .map_or("never".into(), |ms| {
                    format!("in {}", output::duration(Duration::from_millis(ms)))
                });
            rows.push(vec!["expires".into(), expires]);
        }
        _ => {
            rows.push(vec!["kind".into(), text("kind")]);
            if report["tag"].is_string() {
                rows.push(vec!["tag".into(), text("tag")]);
            }
            rows.push(vec!["stored".into(), text("stored")]);
            rows.push(vec!["version".into(), text("version")]);
        }
    }
    output::table(&rows);
}
