//! Building the keys of entries, tags, locks and the namespace epoch.
//!
//! An entry key is `{prefix}:entry:{function path}:{key part}`. The function
//! path never contains `:` (the `::` of Rust paths become `.`), so the first
//! `:` after `entry:` ends it and a user's `key = ...` can hold anything
//! without two different functions or arguments ever sharing a key.

use std::cell::RefCell;
use std::fmt::{self, Display, Write as _};
use std::sync::OnceLock;

use serde::Serialize;
use xxhash_rust::xxh3::xxh3_128;

use crate::canonical;

/// Where a `#[cached]` function lives: its identity in keys, and its options
/// that are fixed at compile time. One `static` per generated function.
pub struct Site {
    /// Returns the type name of a marker `fn` nested in the generated function,
    /// such as `app::users::Repo::get::__cachetool_site`: the module path, the
    /// type for methods and the function name, without the macro knowing them.
    marker: fn() -> &'static str,
    /// `"_invalidate"` or `"_refresh"` for companions, which share the path of
    /// the function they belong to.
    companion_suffix: &'static str,
    name: Option<&'static str>,
    version: u32,
    lock: bool,
    path: OnceLock<Box<str>>,
}

const MARKER_SUFFIX: &str = "::__cachetool_site";

impl Site {
    /// Describes one generated function; see the fields.
    pub const fn new(
        marker: fn() -> &'static str,
        companion_suffix: &'static str,
        name: Option<&'static str>,
        version: u32,
        lock: bool,
    ) -> Site {
        Site {
            marker,
            companion_suffix,
            name,
            version,
            lock,
            path: OnceLock::new(),
        }
    }

    /// The function path used in keys, such as `app.users.Repo.get` or a `name = "..."`,
    /// with `@v{N}` appended when `version = N` is set.
    pub(crate) fn path(&self) -> &str {
        self.path.get_or_init(|| {
            let mut path = match self.name {
                Some(name) => name.to_owned(),
                None => function_path((self.marker)(), self.companion_suffix),
            };
            if self.version != 0 {
                let _ = write!(path, "@v{}", self.version);
            }
            path.into_boxed_str()
        })
    }

    /// Whether concurrent misses of one key wait for a single computation.
    pub(crate) fn lock(&self) -> bool {
        self.lock
    }
}

/// `app::users::load_user_refresh::__cachetool_site` -> `app.users.load_user`.
fn function_path(marker_type_name: &str, companion_suffix: &str) -> String {
    let path = marker_type_name
        .strip_suffix(MARKER_SUFFIX)
        .unwrap_or(marker_type_name);
    let path = path.strip_suffix(companion_suffix).unwrap_or(path);
    dotted(path)
}

/// Rust paths use `::`; keys use `.` so that `:` only ever separates key parts.
pub(crate) fn dotted(path: &str) -> String {
    path.replace("::", ".").replace(':', ".")
}

/// The part of an entry key that depends on the arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    /// xxh3-128 of the CBOR encoding of the key arguments.
    Hash(u128),
    /// The text of `key = ...`, as the user wrote it.
    Custom(String),
    /// The arguments could not be encoded (their `Serialize` failed): the call
    /// is not cached at all.
    Unkeyable(String),
}

thread_local! {
    /// Reused encoding buffer: hashing a key allocates nothing once warm.
    static KEY_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl KeyPart {
    /// Hashes the CBOR encoding of `args`, with map entries in canonical order:
    /// stable across processes, builds and machines, and equal for equal maps.
    pub fn hash_of<A: Serialize + ?Sized>(args: &A) -> KeyPart {
        KEY_BUFFER.with(|buffer| {
            // A re-entrant call (a Serialize impl that calls a cached fn) gets a fresh buffer.
            let mut owned;
            let mut borrowed = buffer.try_borrow_mut();
            let buffer: &mut Vec<u8> = match borrowed.as_deref_mut() {
                Ok(buffer) => buffer,
                Err(_) => {
                    owned = Vec::new();
                    &mut owned
                }
            };
            buffer.clear();
            if let Err(error) = ciborium::into_writer(args, &mut *buffer) {
                return KeyPart::Unkeyable(error.to_string());
            }
            if !canonical::has_map(buffer) {
                return KeyPart::Hash(xxh3_128(buffer));
            }
            match canonical::canonicalize(buffer) {
                Ok(canonical) => KeyPart::Hash(xxh3_128(&canonical)),
                Err(error) => KeyPart::Unkeyable(error),
            }
        })
    }

    /// Uses the user's own key text.
    pub fn custom<K: Display + ?Sized>(key: &K) -> KeyPart {
        KeyPart::Custom(key.to_string())
    }
}

impl Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPart::Hash(hash) => write!(f, "{hash:032x}"),
            KeyPart::Custom(text) => f.write_str(text),
            KeyPart::Unkeyable(_) => f.write_str("-"),
        }
    }
}

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

    /// `{prefix}:entry:{path}{<generics>}:{part}`.
    pub(crate) fn entry_key(&self, path: &str, generics: &[&str], part: &KeyPart) -> String {
        let mut key = String::with_capacity(self.prefix.len() + path.len() + 48);
        key.push_str(&self.prefix);
        key.push_str(":entry:");
        key.push_str(path);
        if !generics.is_empty() {
            key.push('<');
            for (index, generic) in generics.iter().enumerate() {
                if index > 0 {
                    key.push(',');
                }
                key.push_str(&dotted(generic));
            }
            key.push('>');
        }
        key.push(':');
        let _ = write!(key, "{part}");
        key
    }

    /// `{prefix}:tag:{name}`.
    pub(crate) fn tag_key(&self, tag: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + 5 + tag.len());
        key.push_str(&self.prefix);
        key.push_str(":tag:");
        key.push_str(tag);
        key
    }

    /// `{prefix}:lock:{entry key without the prefix}`.
    pub(crate) fn lock_key(&self, entry_key: &str) -> String {
        let rest = entry_key
            .strip_prefix(&*self.prefix)
            .and_then(|rest| rest.strip_prefix(":entry:"))
            .unwrap_or(entry_key);
        format!("{}:lock:{rest}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_path_drops_marker_and_companion_suffix() {
        assert_eq!(
            function_path(
                "app::users::load_user_refresh::__cachetool_site",
                "_refresh"
            ),
            "app.users.load_user"
        );
        assert_eq!(
            function_path("<app::Repo<u8> as app::Tr>::get::__cachetool_site", ""),
            "<app.Repo<u8> as app.Tr>.get"
        );
    }

    #[test]
    fn hash_is_cbor_xxh3_and_stable() {
        // Pinned: a change here orphans every stored entry of every user.
        let part = KeyPart::hash_of(&(&1u64, &"a"));
        let mut cbor = Vec::new();
        ciborium::into_writer(&(1u64, "a"), &mut cbor).unwrap();
        assert_eq!(cbor, [0x82, 0x01, 0x61, b'a']);
        assert_eq!(part, KeyPart::Hash(xxh3_128(&cbor)));
        assert_eq!(
            part.to_string(),
            format!("{:032x}", xxh3_128(&[0x82, 0x01, 0x61, b'a']))
        );
    }

    #[test]
    fn keys_have_the_documented_shape() {
        let namespace = Namespace::new("app");
        let entry = namespace.entry_key(
            "m.f",
            &["alloc::string::String"],
            &KeyPart::Custom("a:b c".into()),
        );
        assert_eq!(entry, "app:entry:m.f<alloc.string.String>:a:b c");
        assert_eq!(
            namespace.lock_key(&entry),
            "app:lock:m.f<alloc.string.String>:a:b c"
        );
        assert_eq!(namespace.tag_key("user:7"), "app:tag:user:7");
        assert_eq!(namespace.epoch_key(), "app:epoch");
    }
}
