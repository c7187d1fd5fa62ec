//! The `cachetool.load` span of each load, and how its outcome is noted.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use xxhash_rust::xxh3::xxh3_128;

/// How a load ended, as the span's `outcome` field says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Outcome {
    /// Not known (yet): the body panicked or the call was cancelled.
    Unknown = 0,
    /// This call ran the body, which returned a value.
    Computed,
    /// This call ran the body, which returned an error.
    Error,
    /// This call waited for another caller of this process computing the same
    /// key, and was handed its value (or found it stored when it looked again).
    Joined,
    /// The value appeared in the backend while this call waited or took the
    /// lock: another process (or a caller that did not share this call's
    /// computation) stored it.
    FromAnotherProcess,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Unknown => "unknown",
            Outcome::Computed => "computed",
            Outcome::Error => "error",
            Outcome::Joined => "joined",
            Outcome::FromAnotherProcess => "from_another_process",
        }
    }
}

/// The outcome of one call's load, noted where it is decided and read when
/// the span closes.
#[derive(Debug, Default)]
pub(crate) struct OutcomeCell(AtomicU8);

impl OutcomeCell {
    pub(crate) const fn new() -> OutcomeCell {
        OutcomeCell(AtomicU8::new(Outcome::Unknown as u8))
    }

    pub(crate) fn set(&self, outcome: Outcome) {
        self.0.store(outcome as u8, Relaxed);
    }

    pub(crate) fn get(&self) -> Outcome {
        match self.0.load(Relaxed) {
            1 => Outcome::Computed,
            2 => Outcome::Error,
            3 => Outcome::Joined,
            4 => Outcome::FromAnotherProcess,
            _ => Outcome::Unknown,
        }
    }
}

/// The `key_hash` field: the 32 hex digits that end an entry key made from
/// the arguments' hash; for a `key = ...` entry, the xxh3-128 of its text, so
/// that no argument text reaches the logs. Written only if a subscriber
/// records the span.
pub(crate) struct KeyHash<'a> {
    /// The entry key without its `{prefix}:entry:` and function path.
    pub(crate) part: &'a str,
}

impl fmt::Display for KeyHash<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = self.part;
        if part.len() == 32 && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            f.write_str(part)
        } else {
            write!(f, "{:032x}", xxh3_128(part.as_bytes()))
        }
    }
}

/// The argument part of `entry_key` (`{prefix}:entry:{path}[<types>]:{part}`):
/// the function path holds no `:`, so the part starts after the first `:`
/// that follows `{prefix}:entry:`.
pub(crate) fn key_part<'k>(entry_key: &'k str, prefix: &str) -> &'k str {
    let rest = entry_key
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix(":entry:"))
        .unwrap_or(entry_key);
    rest.split_once(':').map_or(rest, |(_, part)| part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hash_is_the_hex_part_or_a_hash_of_a_custom_key() {
        let hex = "0123456789abcdef0123456789abcdef";
        let key = format!("a:b:entry:m.f<u8>:{hex}");
        let part = key_part(&key, "a:b");
        assert_eq!(KeyHash { part }.to_string(), hex);
        let custom = key_part("app:entry:m.f:user:7", "app");
        assert_eq!(custom, "user:7");
        let hashed = KeyHash { part: custom }.to_string();
        assert_eq!(hashed, format!("{:032x}", xxh3_128(b"user:7")));
    }

    #[test]
    fn outcomes_survive_the_cell() {
        let cell = OutcomeCell::new();
        assert_eq!(cell.get(), Outcome::Unknown);
        for outcome in [
            Outcome::Computed,
            Outcome::Error,
            Outcome::Joined,
            Outcome::FromAnotherProcess,
        ] {
            cell.set(outcome);
            assert_eq!(cell.get(), outcome);
        }
    }
}
