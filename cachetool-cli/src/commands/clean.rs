//! `clean TAG...` and `clean-all`: what `cache.clean(&[..])` and
//! `cache.clean_all()` do, from outside.

use cachetool_runtime::Cache;
use serde_json::json;

use crate::cli::Cli;
use crate::failure::Outcome;
use crate::output;

pub(super) fn clean(cli: &Cli, cache: &Cache, tags: &[String]) -> Outcome {
    cache.clean(tags)?;
    match cli.json {
        true => output::json(&json!({ "prefix": cache.prefix(), "cleaned_tags": tags })),
        false => println!(
            "cleaned {} tag{} of {}: {}",
            tags.len(),
            if tags.len() == 1 { "" } else { "s" },
            cache.prefix(),
            tags.join(", ")
        ),
    }
    Ok(())
}

pub(super) fn clean_all(cli: &Cli, cache: &Cache) -> Outcome {
    cache.clean_all()?;
    match cli.json {
        true => output::json(&json!({ "prefix": cache.prefix(), "cleaned_all": true })),
        false => println!(
            "cleaned every entry of {} (a new epoch; nothing else on the server was touched)",
            cache.prefix()
        ),
    }
    Ok(())
}
