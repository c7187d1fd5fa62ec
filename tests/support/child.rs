//! Tests that run their own binary again as a child process (another process
//! of the same program, on the same server): starting it and waiting for it,
//! boundedly.

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

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
