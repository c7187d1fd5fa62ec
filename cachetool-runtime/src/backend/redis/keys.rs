//! How a cache key becomes a Redis key: as it is, unless it is too long.
//!
//! Redis keys are binary-safe, so any key (spaces, newlines, `:`, `{`) is sent
//! as its bytes. A key longer than [`MAX_KEY_LEN`] bytes is replaced by
//! `{head}:#xxh3-128:{32 hex digits}`, where `head` is the key up to its first
//! `:` (the cache prefix, when it is at most 64 bytes; else empty) and the hex is
//! the xxh3-128 of the whole key. A key whose text after its first `:` already
//! starts with `#xxh3-128:` is hashed too, whatever its length, so a key stored
//! as it is can never equal the hashed form of another.

use std::borrow::Cow;

use xxhash_rust::xxh3::xxh3_128;

/// The longest key stored as it is, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 1024;

/// What follows the head of a hashed key.
const MARKER: &str = ":#xxh3-128:";

/// The longest head kept in a hashed key.
const MAX_HEAD_LEN: usize = 64;

/// The Redis key of `key`.
pub(crate) fn redis_key(key: &str) -> Cow<'_, str> {
    // (A byte scan: `find(':')` costs several times more, on every key of every call.)
    let first_colon = key.bytes().position(|byte| byte == b':');
    let looks_hashed = first_colon.is_some_and(|at| key[at..].starts_with(MARKER));
    if key.len() <= MAX_KEY_LEN && !looks_hashed {
        return Cow::Borrowed(key);
    }
    let head = match first_colon {
        Some(at) if at <= MAX_HEAD_LEN => &key[..at],
        _ => "",
    };
    Cow::Owned(format!("{head}{MARKER}{:032x}", xxh3_128(key.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_kept() {
        assert_eq!(
            redis_key("app:entry:f:a b\n{c}:d"),
            "app:entry:f:a b\n{c}:d"
        );
        let limit = "x".repeat(MAX_KEY_LEN);
        assert_eq!(redis_key(&limit), limit.as_str());
    }

    #[test]
    fn long_keys_are_hashed_with_their_prefix() {
        let long = format!("app:entry:f:{}", "y".repeat(2 * MAX_KEY_LEN));
        let hashed = redis_key(&long);
        assert_eq!(hashed.len(), "app".len() + MARKER.len() + 32);
        assert!(hashed.starts_with("app:#xxh3-128:"));
        let other = format!("{long}z");
        assert_ne!(redis_key(&other), hashed);
        let no_colon = "z".repeat(MAX_KEY_LEN + 1);
        assert!(redis_key(&no_colon).starts_with(":#xxh3-128:"));
    }

    #[test]
    fn a_key_shaped_like_a_hashed_key_is_hashed_too() {
        let long = format!("app:{}", "y".repeat(2 * MAX_KEY_LEN));
        let hashed = redis_key(&long).into_owned();
        // Someone stores a key equal to that hashed form: it must not land on it.
        assert_ne!(redis_key(&hashed), hashed.as_str());
        assert!(redis_key(&hashed).starts_with("app:#xxh3-128:"));
    }
}
