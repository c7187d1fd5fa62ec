//! The message a change of a namespace's data publishes on its channel, and
//! how a subscriber reads it back.
//!
//! A message names the keys that changed, as the cache wrote them (before a
//! backend shortens a long key), and, for a tag or epoch key given a new
//! version, that version:
//!
//! ```text
//! ct1 <origin: 16 hex digits> <len>:<key>[=<len>:<version>] <len>:<key>...
//! ```
//!
//! Keys and versions are length-prefixed, so a `key = ...` text may hold
//! anything. The origin is the publishing backend's random id: a subscriber
//! tells its own backend's messages by it.
//!
//! The reader turns each key into what the local tier keys by, with no
//! lookup: an entry key into the [`CallId`]s it may be (see [`Change::Entry`]),
//! a tag key into the hash of its name, the epoch key into the epoch.

use bytes::Bytes;
use smallvec::SmallVec;
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

use crate::key::CallId;

/// What every message starts with: the format, version 1.
pub(super) const MAGIC: &[u8] = b"ct1 ";

/// The channel of `prefix`'s changes: `{prefix}:changes`. A channel is no
/// key (Redis keeps them apart), and classic `PUBLISH` reaches the
/// subscribers of every node of a cluster.
pub(crate) fn channel(prefix: &str) -> String {
    format!("{prefix}:changes")
}

/// The prefix of a key: everything before its first `:` (a prefix has none,
/// see `builder.rs`).
pub(crate) fn prefix_of(key: &str) -> Option<&str> {
    key.split_once(':').map(|(prefix, _)| prefix)
}

/// What a key of a namespace is, read from its layout (`key/namespace.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyKind {
    Entry,
    Tag,
    Epoch,
}

pub(super) fn kind_of(key: &str) -> Option<KeyKind> {
    let (_, rest) = key.split_once(':')?;
    if rest.starts_with("entry:") {
        Some(KeyKind::Entry)
    } else if rest.starts_with("tag:") {
        Some(KeyKind::Tag)
    } else if rest == "epoch" {
        Some(KeyKind::Epoch)
    } else {
        None
    }
}

/// Whether a write of `key` is announced: an entry, a tag version or the
/// epoch. Locks and keys of no namespace are not.
pub(crate) fn is_announced(key: &str) -> bool {
    kind_of(key).is_some()
}

/// A message read from the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// The random id of the backend that published it (`RedisBackend::origin`).
    pub(crate) origin: u64,
    /// What changed, in the order written.
    pub(crate) changes: Vec<Change>,
}

/// One change, in the form the local tier keys by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// An entry was stored or invalidated. Its key names the function and the
    /// arguments' part; these are the call identities it may be: one, or two
    /// when the part is 32 hex digits (the hash of arguments, or a
    /// `key = ...` text of that form: each is a call that may be stale).
    Entry(SmallVec<[CallId; 2]>),
    /// An entry of a generic function (or of a method keyed by its `Self`
    /// type) was stored or invalidated: its identity hashes the type names,
    /// which its key shows only rewritten (`::` as `.`), so it cannot be
    /// named. The local tier must treat it as a change of any entry (drop
    /// them all, or at least every one of a generic function).
    UnnamedEntry,
    /// A tag's version key changed: deleted by a `clean` (`version` `None`),
    /// or set to `version`. `tag` is the hash of its name (`local::tag_hash`).
    Tag { tag: u64, version: Option<Bytes> },
    /// The epoch changed (a `clean_all`): set to `version`, or deleted.
    Epoch { version: Option<Bytes> },
}

/// Why a message was not read: it is not one of ours, or it is damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Corrupt(pub(crate) &'static str);

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Reads a message of the channel of `prefix`. A message that is not
/// exactly of the format, or names a key of another prefix, is [`Corrupt`]:
/// nothing of it is used.
pub(crate) fn decode(prefix: &str, payload: &[u8]) -> Result<Message, Corrupt> {
    let rest = payload
        .strip_prefix(MAGIC)
        .ok_or(Corrupt("not a cachetool change message"))?;
    let (origin, mut rest) = split_at_checked(rest, 16).ok_or(Corrupt("no origin"))?;
    let origin = std::str::from_utf8(origin)
        .ok()
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .ok_or(Corrupt("the origin is not 16 hex digits"))?;
    let mut changes = Vec::new();
    while !rest.is_empty() {
        rest = rest
            .strip_prefix(b" ")
            .ok_or(Corrupt("no space before a key"))?;
        let (key, after) = read_field(rest)?;
        rest = after;
        let value = match rest.strip_prefix(b"=") {
            Some(after) => {
                let (value, after) = read_field(after)?;
                rest = after;
                Some(Bytes::copy_from_slice(value))
            }
            None => None,
        };
        let key = std::str::from_utf8(key).map_err(|_| Corrupt("a key is not UTF-8"))?;
        changes.push(change_of(prefix, key, value)?);
    }
    if changes.is_empty() {
        return Err(Corrupt("no key"));
    }
    Ok(Message { origin, changes })
}

fn split_at_checked(bytes: &[u8], at: usize) -> Option<(&[u8], &[u8])> {
    (bytes.len() >= at).then(|| bytes.split_at(at))
}

/// `<len>:<bytes>`, and what follows.
fn read_field(bytes: &[u8]) -> Result<(&[u8], &[u8]), Corrupt> {
    let colon = memchr_colon(bytes).ok_or(Corrupt("a field has no length"))?;
    let len = std::str::from_utf8(&bytes[..colon])
        .ok()
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<usize>().ok())
        .ok_or(Corrupt("a field's length is not a number"))?;
    split_at_checked(&bytes[colon + 1..], len).ok_or(Corrupt("a field is cut short"))
}

fn memchr_colon(bytes: &[u8]) -> Option<usize> {
    // A length has at most 20 digits: no need to look further.
    bytes.iter().take(21).position(|&byte| byte == b':')
}

fn change_of(prefix: &str, key: &str, version: Option<Bytes>) -> Result<Change, Corrupt> {
    let rest = key
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix(':'))
        .ok_or(Corrupt("a key of another prefix"))?;
    if let Some(entry) = rest.strip_prefix("entry:") {
        return entry_change(entry);
    }
    if let Some(tag) = rest.strip_prefix("tag:") {
        return Ok(Change::Tag {
            tag: xxh3_64(tag.as_bytes()),
            version,
        });
    }
    if rest == "epoch" {
        return Ok(Change::Epoch { version });
    }
    Err(Corrupt("a key that is no entry, tag or epoch"))
}

/// `{function}:{part}` (the function path never holds `:`, see `key/mod.rs`)
/// into the call identities it may be (`CallId::new`).
fn entry_change(entry: &str) -> Result<Change, Corrupt> {
    let (function, part) = entry
        .split_once(':')
        .ok_or(Corrupt("an entry key without its part"))?;
    if function.contains('<') {
        return Ok(Change::UnnamedEntry);
    }
    let function = xxh3_64(function.as_bytes());
    let mut calls = SmallVec::new();
    if let Some(hash) = hash_part(part) {
        calls.push(CallId {
            function,
            args: hash,
        });
    }
    calls.push(CallId {
        function,
        args: xxh3_128(part.as_bytes()),
    });
    Ok(Change::Entry(calls))
}

/// The arguments' hash written as 32 lowercase hex digits (`push_hex128`).
fn hash_part(part: &str) -> Option<u128> {
    let lowercase_hex = |byte: u8| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte);
    (part.len() == 32 && part.bytes().all(lowercase_hex))
        .then(|| u128::from_str_radix(part, 16).ok())
        .flatten()
}
