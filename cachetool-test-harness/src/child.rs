//! Tests that run their own binary again as a child process (another process
//! of the same program, on the same server): starting it and waiting for it,
//! boundedly.

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Conclusion, Trial};

/// The `main` of a test binary that also plays a child process of itself:
/// with `env` set, runs `child` with its value and exits; otherwise runs
/// `trials` (libtest-mimic: the child's part is not counted as a test) and
/// gives their outcome.
pub fn main_or_child(
    env: &str,
    child: impl FnOnce(&str),
    trials: impl FnOnce() -> Vec<Trial>,
) -> Conclusion {
    if let Ok(spec) = std::env::var(env) {
        child(&spec);
        std::process::exit(0);
    }
    let arguments = Arguments::from_args();
    libtest_mimic::run(&arguments, trials())
}

/// This test binary, to be run as a child with `env` set to `spec` (its
/// `main` sees `env` and plays the child's part).
pub fn this_binary(env: &str, spec: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command.env(env, spec);
    command
}

/// Waits until `child` exits, or kills it at `deadline` and says so.
pub fn wait_until(child: &mut Child, deadline: Instant) -> Result<ExitStatus, String> {
    loop {
        if let Some(status) = child.try_wait().map_err(|error| error.to_string())? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("a child process did not finish in time; it was killed".to_owned());
        }
        // Polling for the exit: `Child` has no wait with a timeout.
        std::thread::sleep(Duration::from_millis(5));
    }
}
