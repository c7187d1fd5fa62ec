//! `invalidate FUNCTION --args JSON` and `key FUNCTION --args JSON`: the key
//! of one entry, built as `#[cached]` builds it, and its invalidation.

use cachetool_runtime::admin::{self, Envelope};
use cachetool_runtime::Cache;
use serde_json::json;

use crate::cli::{Cli, EntryArgs};
use crate::failure::{Failure, Outcome};
use crate::{json_args, output};

/// The entry key of `entry`'s function and arguments.
fn entry_key(cli: &Cli, entry: &EntryArgs) -> Outcome<String> {
    if entry.function.trim().is_empty() {
        return Err(Failure::usage("the function is empty"));
    }
    match (&entry.args, &entry.key) {
        (Some(args), _) => {
            let args = json_args::parse(args).map_err(Failure::usage)?;
            admin::entry_key(&cli.prefix, &entry.function, &args).map_err(Failure::usage)
        }
        (None, Some(key)) => Ok(admin::custom_entry_key(&cli.prefix, &entry.function, key)),
        (None, None) => Err(Failure::usage(
            "give the key arguments with --args, or --key",
        )),
    }
}

/// `key`: prints the entry key.
pub(super) fn print_key(cli: &Cli, entry: &EntryArgs) -> Outcome {
    let key = entry_key(cli, entry)?;
    match cli.json {
        true => output::json(&json!({ "key": key })),
        false => println!("{key}"),
    }
    Ok(())
}

/// `invalidate`: leaves the tombstone `foo_invalidate(args)` leaves.
pub(super) fn run(cli: &Cli, cache: &Cache, entry: &EntryArgs) -> Outcome {
    let key = entry_key(cli, entry)?;
    let held_value = admin::inspect(cache, &key)?
        .and_then(|stored| Envelope::parse(&stored.bytes).map(|envelope| !envelope.tombstone))
        .unwrap_or(false);
    admin::invalidate_entry(cache, &key)?;
    match (cli.json, held_value) {
        (true, _) => output::json(&json!({ "invalidated": key, "held_a_value": held_value })),
        (false, true) => println!("invalidated {key} (it held a value)"),
        (false, false) => println!(
            "invalidated {key} (no value was there; the tombstone keeps a computation in flight from storing one)"
        ),
    }
    Ok(())
}
