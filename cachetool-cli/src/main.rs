//! `cachetool`: look at and act on a cachetool cache in Redis or Memcached
//! from outside the programs that fill it.
//!
//! Exit status: 0 on success, 1 with a one-line message when the operation
//! failed (a server down, a bad URL, a key that holds no entry), 2 on a usage
//! error (clap's own, or arguments that can't be used, such as `--args` that
//! JSON can't express).

mod cbor_json;
mod cli;
mod commands;
mod failure;
mod json_args;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version print to stdout and exit 0; mistakes exit 2.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    match commands::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("cachetool: {}", failure.one_line());
            ExitCode::from(failure.exit_code())
        }
    }
}
