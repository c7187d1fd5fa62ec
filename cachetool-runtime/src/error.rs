//! The error type of every fallible cachetool operation.

use std::error::Error as StdError;
use std::fmt;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as [`Error::kind`] reports it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The backend refused or failed the operation (a server error, a lost connection).
    Backend,
    /// The backend did not answer in time.
    Timeout,
    /// A value or key could not be encoded or decoded.
    Codec,
    /// The cache was configured wrongly (a bad URL, a zero capacity, a second `set_global`).
    Config,
    /// A value is larger than the backend stores (Memcached's item size limit).
    /// The cache counts it in [`Stats::oversized`](crate::Stats::oversized), not as an error.
    TooLarge,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Backend => "backend error",
            ErrorKind::Timeout => "backend timeout",
            ErrorKind::Codec => "codec error",
            ErrorKind::Config => "configuration error",
            ErrorKind::TooLarge => "value too large",
        })
    }
}

/// An error of a cache operation: its [`kind`](Error::kind), what failed, and the cause.
pub struct Error {
    kind: ErrorKind,
    message: Box<str>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
    /// The server and command that failed, when a server failed.
    origin: Option<Box<Origin>>,
}

/// Where a backend error happened.
#[derive(Debug)]
struct Origin {
    server: Box<str>,
    command: Box<str>,
}

impl Error {
    /// An error of `kind` saying `message` (what failed, and on which server or key).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into().into_boxed_str(),
            source: None,
            origin: None,
        }
    }

    /// The same, caused by `source`.
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Error {
        Error {
            source: Some(Box::new(source)),
            ..Error::new(kind, message)
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether the backend did not answer in time.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// The same error, saying which server (`host:port`, a socket path) failed
    /// which command (`MGET`, `gets`, a pipeline's name). Backends set it on
    /// every error of a server, so that logs and events can name both.
    pub fn at_server(mut self, server: impl Into<String>, command: impl Into<String>) -> Error {
        self.origin = Some(Box::new(Origin {
            server: server.into().into_boxed_str(),
            command: command.into().into_boxed_str(),
        }));
        self
    }

    /// The server that failed, if a server failed (see [`at_server`](Error::at_server)).
    pub fn server(&self) -> Option<&str> {
        self.origin.as_ref().map(|origin| &*origin.server)
    }

    /// The command that failed on [`server`](Error::server).
    pub fn command(&self) -> Option<&str> {
        self.origin.as_ref().map(|origin| &*origin.command)
    }

    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source)
            .field("origin", &self.origin)
            .finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}
