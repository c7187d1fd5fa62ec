//! The subcommands, one file each.

mod clean;
mod get;
mod invalidate;
mod keys;
mod scan;
mod stats;

use std::time::Duration;

use cachetool_runtime::Cache;

use crate::cli::{Cli, Command};
use crate::failure::{Failure, Outcome};

/// Runs the command line's subcommand.
pub(crate) fn run(cli: &Cli) -> Outcome {
    if let Command::Key(entry) = &cli.command {
        return invalidate::print_key(cli, entry);
    }
    let cache = open(cli)?;
    match &cli.command {
        Command::Stats => stats::run(cli, &cache),
        Command::Clean { tags } => clean::clean(cli, &cache, tags),
        Command::CleanAll => clean::clean_all(cli, &cache),
        Command::Keys { function, limit } => keys::run(cli, &cache, function.as_deref(), *limit),
        Command::Get { key } => get::run(cli, &cache, key),
        Command::Invalidate(entry) => invalidate::run(cli, &cache, entry),
        Command::Key(_) => unreachable!("answered above"),
    }
}

/// The cache the URL and prefix name. Opening only reads the URL: the first
/// command connects.
fn open(cli: &Cli) -> Outcome<Cache> {
    let url = cli
        .url
        .as_deref()
        .ok_or_else(|| Failure::usage("no backend URL: give --url or set CACHETOOL_URL"))?;
    if !(cli.timeout.is_finite() && cli.timeout > 0.0 && cli.timeout <= 3600.0) {
        return Err(Failure::usage(format!(
            "--timeout {} must be a number of seconds between 0 and 3600",
            cli.timeout
        )));
    }
    let timeout = Duration::from_secs_f64(cli.timeout);
    Ok(Cache::builder()
        .url(url)?
        .prefix(&cli.prefix)
        .connect_timeout(timeout)
        .io_timeout(timeout)
        .build()?)
}
