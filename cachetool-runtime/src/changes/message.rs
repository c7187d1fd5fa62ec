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
const MAGIC: &[u8] = b"ct1 ";

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
enum KeyKind {
    Entry,
    Tag,
    Epoch,
}

fn kind_of(key: &str) -> Option<KeyKind> {
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

/// One message to publish, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Publication {
    pub(crate) channel: String,
    pub(crate) message: Vec<u8>,
}

/// Builds the message of one write: the keys it changed, all of one prefix.
pub(crate) struct Announcement {
    prefix: String,
    message: Vec<u8>,
}

impl Announcement {
    /// A message from the backend `origin`, about keys of `prefix`.
    pub(crate) fn new(origin: u64, prefix: &str) -> Announcement {
        let mut message = Vec::with_capacity(64);
        message.extend_from_slice(MAGIC);
        message.extend_from_slice(format!("{origin:016x}").as_bytes());
        Announcement {
            prefix: prefix.to_owned(),
            message,
        }
    }

    /// Adds `key`, changed to `value` (only a version is sent: an entry's
    /// value is not). A key of another prefix, or of no namespace, is left out.
    pub(crate) fn key(&mut self, key: &str, value: Option<&[u8]>) -> &mut Announcement {
        let Some(kind) = kind_of(key) else {
            return self;
        };
        if prefix_of(key) != Some(&self.prefix) {
            return self;
        }
        self.message.push(b' ');
        push_field(&mut self.message, key.as_bytes());
        if let (KeyKind::Tag | KeyKind::Epoch, Some(value)) = (kind, value) {
            self.message.push(b'=');
            push_field(&mut self.message, value);
        }
        self
    }

    /// The message, unless no key was added.
    pub(crate) fn finish(self) -> Option<Publication> {
        (self.message.len() > MAGIC.len() + 16).then(|| Publication {
            channel: channel(&self.prefix),
            message: self.message,
        })
    }
}

/// The message of a write of `key` alone (to `value`, for a version).
pub(crate) fn announce_one(origin: u64, key: &str, value: Option<&[u8]>) -> Option<Publication> {
    let mut announcement = Announcement::new(origin, prefix_of(key)?);
    announcement.key(key, value);
    announcement.finish()
}

/// The messages of a write of `keys`: one per prefix among them (a cache's
/// keys share one), in the order each prefix first appears, each with the
/// keys it names. Keys of no namespace are in none.
pub(crate) fn announce_keys<'k>(origin: u64, keys: &[&'k str]) -> Vec<(Vec<&'k str>, Publication)> {
    let mut groups: Vec<(Vec<&'k str>, Announcement)> = Vec::new();
    for &key in keys.iter().filter(|key| is_announced(key)) {
        let Some(prefix) = prefix_of(key) else {
            continue;
        };
        let index = match groups.iter().position(|(_, a)| a.prefix == prefix) {
            Some(index) => index,
            None => {
                groups.push((Vec::new(), Announcement::new(origin, prefix)));
                groups.len() - 1
            }
        };
        groups[index].0.push(key);
        groups[index].1.key(key, None);
    }
    groups
        .into_iter()
        .filter_map(|(keys, announcement)| Some((keys, announcement.finish()?)))
        .collect()
}

fn push_field(message: &mut Vec<u8>, bytes: &[u8]) {
    message.extend_from_slice(itoa::Buffer::new().format(bytes.len()).as_bytes());
    message.push(b':');
    message.extend_from_slice(bytes);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{KeyPart, Namespace, Site};

    fn marker() -> &'static str {
        "app::users::load::__cachetool_site"
    }
    static SITE: Site = Site::new(marker, "", None, 0, true);

    fn entry_key(part: &KeyPart) -> String {
        Namespace::new("app").entry_key(SITE.path(), None, &[], part)
    }

    fn one(message: &Message) -> &Change {
        assert_eq!(message.changes.len(), 1, "{message:?}");
        &message.changes[0]
    }

    #[test]
    fn an_entry_key_reads_back_as_the_call_the_call_path_computes() {
        let hash = 0x0123_4567_89ab_cdef_0011_2233_4455_6677_u128;
        for part in [KeyPart::Hash(hash), KeyPart::Custom("user 7: a:b".into())] {
            let key = entry_key(&part);
            let publication = announce_one(42, &key, None).unwrap();
            assert_eq!(publication.channel, "app:changes");
            let message = decode("app", &publication.message).unwrap();
            assert_eq!(message.origin, 42);
            let call = CallId::new(&SITE, None, &[], &part).unwrap();
            match one(&message) {
                Change::Entry(calls) => assert!(calls.contains(&call), "{calls:?} {call:?}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_custom_key_of_32_hex_digits_names_both_readings() {
        let text = "0123456789abcdef0123456789abcdef";
        let key = entry_key(&KeyPart::Custom(text.into()));
        let message = decode("app", &announce_one(1, &key, None).unwrap().message).unwrap();
        let Change::Entry(calls) = one(&message) else {
            panic!("{message:?}")
        };
        let custom = CallId::new(&SITE, None, &[], &KeyPart::Custom(text.into())).unwrap();
        let hash = CallId::new(
            &SITE,
            None,
            &[],
            &KeyPart::Hash(u128::from_str_radix(text, 16).unwrap()),
        )
        .unwrap();
        assert!(calls.contains(&custom) && calls.contains(&hash));
    }

    #[test]
    fn a_generic_functions_entry_is_unnamed() {
        let key = Namespace::new("app").entry_key(
            SITE.path(),
            None,
            &["alloc::string::String"],
            &KeyPart::Hash(5),
        );
        let message = decode("app", &announce_one(1, &key, None).unwrap().message).unwrap();
        assert_eq!(one(&message), &Change::UnnamedEntry);
    }

    #[test]
    fn tags_and_the_epoch_carry_their_versions() {
        let namespace = Namespace::new("app");
        let mut announcement = Announcement::new(7, "app");
        announcement
            .key(&namespace.tag_key("users"), None)
            .key(&namespace.tag_key("a b:c"), Some(b"123"))
            .key(namespace.epoch_key(), Some(b"99"))
            .key("app:lock:x:y", None)
            .key("other:epoch", Some(b"1"));
        let message = decode("app", &announcement.finish().unwrap().message).unwrap();
        assert_eq!(
            message.changes,
            vec![
                Change::Tag {
                    tag: crate::local::tag_hash("users"),
                    version: None
                },
                Change::Tag {
                    tag: crate::local::tag_hash("a b:c"),
                    version: Some(Bytes::from_static(b"123"))
                },
                Change::Epoch {
                    version: Some(Bytes::from_static(b"99"))
                },
            ]
        );
    }

    #[test]
    fn keys_of_several_prefixes_make_one_message_each() {
        let publications =
            announce_keys(3, &["a:tag:x", "b:tag:y", "a:epoch", "a:lock:z", "nothing"]);
        let channels: Vec<&str> = publications
            .iter()
            .map(|(_, p)| p.channel.as_str())
            .collect();
        assert_eq!(channels, ["a:changes", "b:changes"]);
        assert_eq!(publications[0].0, ["a:tag:x", "a:epoch"]);
        assert_eq!(
            decode("a", &publications[0].1.message)
                .unwrap()
                .changes
                .len(),
            2
        );
        assert!(announce_keys(3, &["a:lock:z"]).is_empty());
        assert!(announce_one(3, "no-namespace", None).is_none());
    }

    #[test]
    fn foreign_and_damaged_messages_are_corrupt_never_a_panic() {
        let good = announce_one(9, "app:tag:t", Some(b"5")).unwrap().message;
        assert!(decode("app", &good).is_ok());
        // Cut anywhere, it is an error, but cut before its version: a
        // message about the tag alone (still a change of it, never lost).
        let version_at = good.iter().position(|&byte| byte == b'=').unwrap();
        for cut in 0..good.len() {
            match decode("app", &good[..cut]) {
                Ok(message) => assert!(
                    cut == version_at
                        && message.changes
                            == [Change::Tag {
                                tag: crate::local::tag_hash("t"),
                                version: None
                            }],
                    "cut at {cut}: {message:?}"
                ),
                Err(_) => assert_ne!(cut, version_at),
            }
        }
        for bad in [
            &b""[..],
            b"hello",
            b"ct1 zzzzzzzzzzzzzzzz 9:app:epoch",
            b"ct1 0000000000000001 99999999999999999999999:x",
            b"ct1 0000000000000001 9:app:epoch=",
            b"ct1 0000000000000001 3:b:x",
            b"ct1 0000000000000001 9:app:lock:",
            b"ct1 0000000000000001 9:app:epochX",
            b"ct1 0000000000000001",
        ] {
            assert!(
                decode("app", bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(decode("other", &good).is_err(), "another prefix's channel");
        // Every byte flipped: an error or a message, never a panic.
        for index in 0..good.len() {
            let mut flipped = good.clone();
            flipped[index] ^= 0x5a;
            let _ = decode("app", &flipped);
        }
    }
}
