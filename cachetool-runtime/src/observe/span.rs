//! The `cachetool.load` span of each load, and how its outcome is noted.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use crate::key::CallId;

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
    /// `fail_safe` answered with an expired value: the body failed (or had
    /// just failed, for the throttle).
    FailSafe,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Unknown => "unknown",
            Outcome::Computed => "computed",
            Outcome::Error => "error",
            Outcome::Joined => "joined",
            Outcome::FromAnotherProcess => "from_another_process",
            Outcome::FailSafe => "fail_safe",
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
            5 => Outcome::FailSafe,
            _ => Outcome::Unknown,
        }
    }
}

/// The `key_hash` field: the xxh3-128 of the arguments' key encoding (the
/// 32 hex digits that end an entry key), or of a `key = ...` text, so that no
/// argument text reaches the logs; `-` for arguments that make no key.
/// Written only if a subscriber records the span.
pub(crate) struct KeyHash {
    pub(crate) call: Option<CallId>,
}

impl fmt::Display for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.call {
            Some(call) => write!(f, "{:032x}", call.args),
            None => f.write_str("-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xxhash_rust::xxh3::xxh3_128;

    #[test]
    fn key_hash_is_the_hex_of_the_arguments_hash_or_of_a_custom_key() {
        let call = |args| Some(CallId { function: 9, args });
        let hex = "0123456789abcdef0123456789abcdef";
        let args = u128::from_str_radix(hex, 16).unwrap();
        assert_eq!(KeyHash { call: call(args) }.to_string(), hex);
        let custom = xxh3_128(b"user:7");
        assert_eq!(
            KeyHash { call: call(custom) }.to_string(),
            format!("{custom:032x}")
        );
        assert_eq!(KeyHash { call: None }.to_string(), "-");
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
