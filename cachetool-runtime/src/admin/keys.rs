//! The keys of a cache's namespace, built and read as `#[cached]` does.

use serde::Serialize;

use crate::key::{dotted, KeyArgs, KeyPart, Namespace};
use crate::{Error, ErrorKind, Result};

/// A function's identity as keys hold it: `::` becomes `.`, so
/// `app::users::load_user` and `app.users.load_user` name one function.
/// Anything else (`<type names>` of a generic function, `@v2` of a version)
/// is kept as written.
pub fn function_path(function: &str) -> String {
    dotted(function)
}

/// The key of the entry that `function` (its identity in keys, see
/// [`function_path`]) stores for `arguments` in the cache of prefix `prefix`:
/// the key `#[cached]` builds for a call whose key arguments serialize as
/// `arguments` do, in order. (Each argument's CBOR is hashed by the code the
/// macro calls; maps are put in canonical order.)
pub fn entry_key<A: Serialize>(prefix: &str, function: &str, arguments: &[A]) -> Result<String> {
    let mut args = KeyArgs::new(arguments.len());
    for argument in arguments {
        args.arg(argument);
    }
    match args.finish() {
        KeyPart::Unkeyable(reason) => Err(Error::new(
            ErrorKind::Codec,
            format!("the arguments could not be encoded as a key: {reason}"),
        )),
        part => Ok(build(prefix, function, &part)),
    }
}

/// The key of the entry of a function with `key = ...` whose key expression
/// gave `key`.
pub fn custom_entry_key(prefix: &str, function: &str, key: &str) -> String {
    build(prefix, function, &KeyPart::Custom(key.to_owned()))
}

/// The key of a tag's version: what [`Cache::clean`](crate::Cache::clean) deletes.
pub fn tag_key(prefix: &str, tag: &str) -> String {
    Namespace::new(prefix).tag_key(tag)
}

fn build(prefix: &str, function: &str, part: &KeyPart) -> String {
    let mut key = String::new();
    Namespace::new(prefix).write_entry_key(&mut key, &function_path(function), None, &[], part);
    key
}

/// What a key of a cache's namespace is (see [`classify`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind<'k> {
    /// `{prefix}:entry:{function}:{part}`: an entry, or the tombstone of one.
    Entry {
        /// The function's identity, with `<type names>` for generic functions.
        function: &'k str,
        /// The hash of the arguments (32 hex digits), or the `key = ...` text.
        part: &'k str,
    },
    /// `{prefix}:tag:{name}`: a tag's version.
    Tag {
        /// The tag.
        name: &'k str,
    },
    /// `{prefix}:epoch`: the namespace's version, which `clean_all` changes.
    Epoch,
    /// `{prefix}:lock:{function}:{part}`: a computation in progress.
    Lock {
        /// The function computing.
        function: &'k str,
        /// The entry's argument part.
        part: &'k str,
    },
    /// A key too long (or unsafe) for the server, stored as a hash: Redis's
    /// `{head}:#xxh3-128:{hex}`, Memcached's `{readable part}~{hex}`. What it
    /// was can't be told.
    Hashed,
    /// Not a key of this prefix's form.
    Foreign,
}

/// What `key` is in the namespace of `prefix`.
pub fn classify<'k>(prefix: &str, key: &'k str) -> KeyKind<'k> {
    if is_hashed(key) {
        return KeyKind::Hashed;
    }
    let Some(rest) = key
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix(':'))
    else {
        return KeyKind::Foreign;
    };
    let function_and_part = |rest: &'k str| rest.split_once(':').filter(|(f, _)| !f.is_empty());
    if rest == "epoch" {
        KeyKind::Epoch
    } else if let Some(name) = rest.strip_prefix("tag:") {
        KeyKind::Tag { name }
    } else if let Some((function, part)) = rest.strip_prefix("entry:").and_then(function_and_part) {
        KeyKind::Entry { function, part }
    } else if let Some((function, part)) = rest.strip_prefix("lock:").and_then(function_and_part) {
        KeyKind::Lock { function, part }
    } else {
        KeyKind::Foreign
    }
}

/// Whether `key` is in the hashed form of a key Redis or Memcached could not
/// take as it was.
pub(crate) fn is_hashed(key: &str) -> bool {
    let hex32 = |text: &str| text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit());
    let redis = key
        .split_once(':')
        .and_then(|(_, rest)| rest.strip_prefix("#xxh3-128:"))
        .is_some_and(hex32);
    let memcached = key.rsplit_once('~').is_some_and(|(_, hash)| hex32(hash));
    redis || memcached
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_classified_by_their_form() {
        let hex = "0123456789abcdef0123456789abcdef";
        let entry = format!("app:entry:m.f<u8>:{hex}");
        assert_eq!(
            classify("app", &entry),
            KeyKind::Entry {
                function: "m.f<u8>",
                part: hex
            }
        );
        assert_eq!(
            classify("app", "app:entry:m.f:user:7"),
            KeyKind::Entry {
                function: "m.f",
                part: "user:7"
            }
        );
        assert_eq!(
            classify("app", "app:tag:user:7"),
            KeyKind::Tag { name: "user:7" }
        );
        assert_eq!(classify("app", "app:epoch"), KeyKind::Epoch);
        assert_eq!(
            classify("app", "app:lock:m.f:x"),
            KeyKind::Lock {
                function: "m.f",
                part: "x"
            }
        );
        assert_eq!(
            classify("app", &format!("app:#xxh3-128:{hex}")),
            KeyKind::Hashed
        );
        assert_eq!(
            classify("app", &format!("app:entry:m.f:ab_c~{hex}")),
            KeyKind::Hashed
        );
        assert_eq!(classify("app", "apps:epoch"), KeyKind::Foreign);
        assert_eq!(classify("app", "app:entry:nopart"), KeyKind::Foreign);
        assert_eq!(classify("a:b", "a:b:epoch"), KeyKind::Epoch);
    }

    #[test]
    fn entry_keys_are_built_as_the_macro_builds_them() {
        let key = entry_key("app", "m::f", &[1u64, 2]).unwrap();
        let part = KeyArgs::new(2).arg(&1u64).arg(&2u64).finish();
        assert_eq!(key, format!("app:entry:m.f:{part}"));
        assert_eq!(
            custom_entry_key("app", "m.f", "user:7"),
            "app:entry:m.f:user:7"
        );
        assert_eq!(tag_key("app", "users"), "app:tag:users");
    }
}
