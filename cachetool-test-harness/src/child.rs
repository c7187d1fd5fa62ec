//! Tests that run their own binary again as a child process (another process
//! of the same program, on the same server): starting it, talking to it and
//! waiting for it, boundedly.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
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

/// A child process of this binary driven line by line: a command on its
/// stdin, its answer on its stdout. Every wait for an answer is bounded by
/// `patience` (a thread of its own reads the lines); dropping it says
/// `quit` and waits, boundedly too, for it to exit.
pub struct Conversation {
    child: Child,
    input: ChildStdin,
    lines: Receiver<String>,
    patience: Duration,
}

impl Conversation {
    /// Starts this binary as a child with `env` set to `spec` (see
    /// [`this_binary`]), and waits for its first line, which must be `ready`.
    pub fn start(env: &str, spec: &str, patience: Duration) -> Conversation {
        let mut child = this_binary(env, spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn this binary as a child");
        let input = child.stdin.take().expect("the child's stdin");
        let output = BufReader::new(child.stdout.take().expect("the child's stdout"));
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in output.lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let mut conversation = Conversation {
            child,
            input,
            lines,
            patience,
        };
        assert_eq!(conversation.answer(), "ready", "the child's first line");
        conversation
    }

    /// Sends `command` and gives the child's answer once it is done.
    pub fn order(&mut self, command: &str) -> String {
        writeln!(self.input, "{command}").expect("write to the child");
        self.input.flush().expect("write to the child");
        self.answer()
    }

    /// The child's next line, trimmed, within the patience.
    pub fn answer(&mut self) -> String {
        match self.lines.recv_timeout(self.patience) {
            Ok(line) => line.trim().to_owned(),
            Err(error) => panic!(
                "no answer from the child within {:?}: {error}",
                self.patience
            ),
        }
    }
}

impl Drop for Conversation {
    fn drop(&mut self) {
        let _ = writeln!(self.input, "quit");
        let _ = self.input.flush();
        let _ = wait_until(&mut self.child, Instant::now() + self.patience);
    }
}
