//! Writing the message of a change (the format: `message.rs`): what the
//! backends call, with the keys they wrote.

use super::message::{channel, is_announced, kind_of, prefix_of, KeyKind, MAGIC};

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
