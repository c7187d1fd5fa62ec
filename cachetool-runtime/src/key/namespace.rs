//! The string keys of one namespace in a remote backend: entries, tags,
//! locks and the epoch.

use smallvec::SmallVec;

use super::args::push_hex128;
use super::site::dotted;
use super::KeyPart;

/// The keys of one cache's namespace.
#[derive(Debug, Clone)]
pub(crate) struct Namespace {
    prefix: Box<str>,
    epoch_key: Box<str>,
}

impl Namespace {
    pub(crate) fn new(prefix: &str) -> Namespace {
        Namespace {
            prefix: prefix.into(),
            epoch_key: format!("{prefix}:epoch").into(),
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key whose version every entry of this namespace carries; `clean_all` bumps it.
    pub(crate) fn epoch_key(&self) -> &str {
        &self.epoch_key
    }

    /// `{prefix}:entry:{path}{<Self,generics>}:{part}`.
    #[cfg(test)]
    pub(crate) fn entry_key(
        &self,
        path: &str,
        self_type: Option<&str>,
        generics: &[&str],
        part: &KeyPart,
    ) -> String {
        let mut key = String::new();
        self.write_entry_key(&mut key, path, self_type, generics, part);
        key
    }

    /// Appends the entry key, `{prefix}:entry:{path}{<Self,generics>}:{part}`, to `key`.
    pub(crate) fn write_entry_key(
        &self,
        key: &mut String,
        path: &str,
        self_type: Option<&str>,
        generics: &[&str],
        part: &KeyPart,
    ) {
        key.reserve(self.prefix.len() + path.len() + 48);
        key.push_str(&self.prefix);
        key.push_str(":entry:");
        key.push_str(path);
        let mut types = self_type.iter().chain(generics).peekable();
        if types.peek().is_some() {
            key.push('<');
            for (index, name) in types.enumerate() {
                if index > 0 {
                    key.push(',');
                }
                key.push_str(&dotted(name));
            }
            key.push('>');
        }
        key.push(':');
        match part {
            KeyPart::Hash(hash) => push_hex128(key, *hash),
            KeyPart::Custom(text) => key.push_str(text),
            KeyPart::Unkeyable(_) => key.push('-'),
        }
    }

    /// `{prefix}:tag:{name}`.
    pub(crate) fn tag_key(&self, tag: &str) -> String {
        let mut key = String::new();
        self.write_tag_key(&mut key, tag);
        key
    }

    /// Appends the tag key (see [`tag_key`](Namespace::tag_key)) to `key`.
    fn write_tag_key(&self, key: &mut String, tag: &str) {
        key.reserve(self.prefix.len() + 5 + tag.len());
        key.push_str(&self.prefix);
        key.push_str(":tag:");
        key.push_str(tag);
    }

    /// `{prefix}:lock:{entry key without the prefix}`.
    pub(crate) fn lock_key(&self, entry_key: &str) -> String {
        let rest = entry_key
            .strip_prefix(&*self.prefix)
            .and_then(|rest| rest.strip_prefix(":entry:"))
            .unwrap_or(entry_key);
        let mut key = String::with_capacity(self.prefix.len() + 6 + rest.len());
        key.push_str(&self.prefix);
        key.push_str(":lock:");
        key.push_str(rest);
        key
    }
}

/// The tag keys of one call, one after the other in one string: a call with
/// tags allocates no string per tag (the string itself is reused, see
/// `call/mod.rs`).
pub(crate) struct TagKeys {
    text: String,
    /// Where each key ends in `text`.
    ends: SmallVec<[usize; 4]>,
}

impl TagKeys {
    /// No tag keys (a local store hashes tags instead).
    pub(crate) fn none() -> TagKeys {
        TagKeys {
            text: String::new(),
            ends: SmallVec::new(),
        }
    }

    /// The keys of `tags`, written into `text` (cleared first).
    pub(crate) fn new(mut text: String, namespace: &Namespace, tags: &[&str]) -> TagKeys {
        let mut ends = SmallVec::new();
        if tags.is_empty() {
            return TagKeys { text, ends };
        }
        text.clear();
        for tag in tags {
            namespace.write_tag_key(&mut text, tag);
            ends.push(text.len());
        }
        TagKeys { text, ends }
    }

    /// Each tag's key, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.text[start..end])
    }

    /// The string they are written in, to reuse.
    pub(crate) fn take_text(&mut self) -> String {
        self.ends.clear();
        std::mem::take(&mut self.text)
    }
}
