//! Listing keys with a progress line: what `keys`, `stats` and `get` share.

use std::ops::ControlFlow;

use cachetool_runtime::{admin, Cache};

use crate::failure::Outcome;
use crate::output::Progress;

/// Hands `each` every key starting with `starting_with`, until it breaks,
/// counting them on the progress line.
pub(super) fn scan(
    cache: &Cache,
    json: bool,
    what: &'static str,
    starting_with: &str,
    mut each: impl FnMut(&str) -> ControlFlow<()>,
) -> Outcome {
    let progress = Progress::new(json, what);
    admin::scan_keys(cache, starting_with, &mut |key| {
        progress.tick();
        each(key)
    })?;
    Ok(())
}
