//! Why a command failed, and its exit status.

use std::fmt::Display;

/// A failed command.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command was given something it can't use (exit status 2).
    Usage(String),
    /// The operation failed: a server down, a bad URL, a key without an
    /// entry (exit status 1).
    Operation(String),
}

impl Failure {
    pub(crate) fn usage(message: impl Display) -> Failure {
        Failure::Usage(message.to_string())
    }

    pub(crate) fn operation(message: impl Display) -> Failure {
        Failure::Operation(message.to_string())
    }

    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Operation(_) => 1,
        }
    }

    /// The message on one line, whatever the error's text held.
    pub(crate) fn one_line(&self) -> String {
        let (Failure::Usage(message) | Failure::Operation(message)) = self;
        message.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

impl From<cachetool_runtime::Error> for Failure {
    fn from(error: cachetool_runtime::Error) -> Failure {
        Failure::operation(error)
    }
}

/// A `Result` whose error is a [`Failure`].
pub(crate) type Outcome<T = ()> = Result<T, Failure>;
