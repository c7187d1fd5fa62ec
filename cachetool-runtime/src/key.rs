//! Building the keys of entries, tags, locks and the namespace epoch.
//!
//! An entry key is `{prefix}:entry:{function path}:{key part}`. The function
//! path never contains `:` (the `::` of Rust paths become `.`), so the first
//! `:` after `entry:` ends it and a user's `key = ...` can hold anything
//! without two different functions or arguments ever sharing a key.

use std::fmt::{self, Display, Write as _};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::OnceLock;

use serde::Serialize;
use xxhash_rust::xxh3::xxh3_128;

use smallvec::SmallVec;

use crate::canonical;
use crate::key_cbor::{self, KeyBuffer, Written};

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
    /// xxh3-64 of `path`.
    path_hash: OnceLock<u64>,
    /// Whether `Self` must be part of the key (see [`Site::keys_self`]).
    keys_self: OnceLock<bool>,
    /// This site's number among the sites of the process, from 1; 0 until it
    /// is first asked for (see [`Site::number`]).
    number: AtomicU32,
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
            path_hash: OnceLock::new(),
            keys_self: OnceLock::new(),
            number: AtomicU32::new(0),
        }
    }

    /// A number of this site's own, from 1, given the first time it is asked
    /// for: where each cache finds the site's counters without a lookup.
    pub(crate) fn number(&self) -> u32 {
        match self.number.load(Relaxed) {
            0 => {
                static NEXT: AtomicU32 = AtomicU32::new(1);
                let mine = NEXT.fetch_add(1, Relaxed);
                // Two first callers at once: the first to store wins, the
                // other number is never used.
                match self.number.compare_exchange(0, mine, Relaxed, Relaxed) {
                    Ok(_) => mine,
                    Err(theirs) => theirs,
                }
            }
            number => number,
        }
    }

    /// Whether a method's `Self` type must be added to its key: when the marker's
    /// path does not name it, as in a generic impl (`app::Wrapper<_>::get`) or a
    /// trait's default method (`app::Trait::get`), where several types share one
    /// function path. Decided once: every `Self` of one site is alike in this.
    pub(crate) fn keys_self(&self, self_type: &str) -> bool {
        *self.keys_self.get_or_init(|| {
            self.name.is_none()
                && (self_type.contains('<') || !self.path().contains(&dotted(self_type)))
        })
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

    /// A hash of [`path`](Site::path): the same for a function and its companions.
    pub(crate) fn path_hash(&self) -> u64 {
        *self
            .path_hash
            .get_or_init(|| xxhash_rust::xxh3::xxh3_64(self.path().as_bytes()))
    }

    /// Whether concurrent misses of one key wait for a single computation.
    pub(crate) fn lock(&self) -> bool {
        self.lock
    }
}

/// `app::users::load_user_refresh::__cachetool_site` -> `app.users.load_user`.
/// In an `async fn` the marker sits in `...::load_user::{{closure}}`: that
/// segment goes too, so sync and async functions have paths of one form.
fn function_path(marker_type_name: &str, companion_suffix: &str) -> String {
    let mut path = marker_type_name
        .strip_suffix(MARKER_SUFFIX)
        .unwrap_or(marker_type_name);
    while let Some(outer) = path.strip_suffix("::{{closure}}") {
        path = outer;
    }
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

/// Encodes key arguments one by one into exactly the CBOR of their tuple, so
/// that each argument's `Serialize` bound is checked once, at that argument.
pub struct KeyArgs {
    buffer: KeyBuffer,
    /// Why an argument could not be encoded.
    failure: Option<Box<str>>,
    /// Arguments announced by [`KeyArgs::new`] and not yet given: 0 when the
    /// encoding is one complete array, anything else when the caller gave
    /// more (it wraps around) or fewer.
    args_left: usize,
    /// Whether every argument is known to hold no map, so the encoding is
    /// already canonical and the map search can be skipped.
    map_free: bool,
}

impl KeyArgs {
    /// Starts the CBOR array of `count` arguments.
    // `new`, `arg` and `finish` are inlined so that a generated
    // `new(..).arg(..).finish()` chain becomes one body: `KeyArgs`, inline
    // buffer included, then moves through registers rather than `memcpy`.
    #[inline]
    pub fn new(count: usize) -> KeyArgs {
        let mut buffer = KeyBuffer::new();
        key_cbor::write_array_header(&mut buffer, count);
        KeyArgs {
            buffer,
            failure: None,
            args_left: count,
            map_free: true,
        }
    }

    /// Appends one argument.
    #[inline]
    pub fn arg<T: Serialize + ?Sized>(mut self, arg: &T) -> KeyArgs {
        self.args_left = self.args_left.wrapping_sub(1);
        if self.failure.is_none() {
            match key_cbor::write(arg, &mut self.buffer) {
                Written::NoMap => {}
                Written::MaybeMap => self.map_free = false,
                Written::Failed(failure) => self.failure = Some(failure.into()),
            }
        }
        self
    }

    /// The key part: xxh3-128 of the (canonical) encoding.
    #[inline]
    pub fn finish(self) -> KeyPart {
        if let Some(failure) = self.failure {
            return KeyPart::Unkeyable(failure.into());
        }
        let encoding = self.buffer.as_bytes();
        // With a wrong argument count the bytes are not one CBOR item; the
        // full check treats them as it always has.
        if self.map_free && self.args_left == 0 {
            return KeyPart::Hash(xxh3_128(encoding));
        }
        hash_encoding(encoding)
    }
}

/// xxh3-128 of a CBOR encoding, with map entries in canonical order: stable
/// across processes, builds and machines, and equal for equal maps.
pub(crate) fn hash_encoding(encoding: &[u8]) -> KeyPart {
    if !canonical::has_map(encoding) {
        return KeyPart::Hash(xxh3_128(encoding));
    }
    match canonical::canonicalize(encoding) {
        Ok(canonical) => KeyPart::Hash(xxh3_128(&canonical)),
        Err(error) => KeyPart::Unkeyable(error),
    }
}

impl KeyPart {
    /// Uses the user's own key text.
    pub fn custom<K: Display + ?Sized>(key: &K) -> KeyPart {
        KeyPart::Custom(key.to_string())
    }
}

impl Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPart::Hash(hash) => f.write_str(&hex128(*hash)),
            KeyPart::Custom(text) => f.write_str(text),
            KeyPart::Unkeyable(_) => f.write_str("-"),
        }
    }
}

/// `hash` as 32 lowercase hex digits (what `{:032x}` gives, without its cost).
fn hex128(hash: u128) -> String {
    let mut text = String::with_capacity(32);
    push_hex128(&mut text, hash);
    text
}

fn push_hex128(text: &mut String, hash: u128) {
    let mut digits = [0u8; 32];
    digits[..16].copy_from_slice(&hex_digits((hash >> 64) as u64).to_be_bytes());
    digits[16..].copy_from_slice(&hex_digits(hash as u64).to_be_bytes());
    text.push_str(std::str::from_utf8(&digits).expect("hex digits are ASCII"));
}

/// The 16 lowercase hex digits of `value` as the bytes of a `u128`, most
/// significant digit in the most significant byte: every digit at once, with
/// no table and no loop (this is on every call's path).
fn hex_digits(value: u64) -> u128 {
    const fn repeat(byte: u8) -> u128 {
        u128::from_ne_bytes([byte; 16])
    }
    // Spread the nibbles apart, one per byte: halves, quarters, bytes, nibbles.
    let mut spread = u128::from(value);
    spread = (spread & 0xffff_ffff) | ((spread >> 32) << 64);
    spread = (spread & 0x0000_0000_0000_ffff_0000_0000_0000_ffff)
        | ((spread & 0x0000_0000_ffff_0000_0000_0000_ffff_0000) << 16);
    spread = (spread & 0x0000_00ff_0000_00ff_0000_00ff_0000_00ff)
        | ((spread & 0x0000_ff00_0000_ff00_0000_ff00_0000_ff00) << 8);
    spread = (spread & 0x000f_000f_000f_000f_000f_000f_000f_000f)
        | ((spread & 0x00f0_00f0_00f0_00f0_00f0_00f0_00f0_00f0) << 4);
    // '0' + digit, and 'a' - '0' - 10 = 39 more for the digits above 9.
    let above_nine = ((spread + repeat(6)) >> 4) & repeat(1);
    spread + repeat(b'0') + above_nine * 39
}

/// A call's identity: its function (the path, with the `Self` type and type
/// arguments where those are keyed) and a hash of its arguments (or of its
/// `key = ...` text). What the local tier and the flights key by; the string
/// key is built only for a remote backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallId {
    pub(crate) function: u64,
    pub(crate) args: u128,
}

impl CallId {
    /// The identity of a call of `site` with `part` (`None`: no key).
    pub(crate) fn new(
        site: &Site,
        self_type: Option<&str>,
        generics: &[&str],
        part: &KeyPart,
    ) -> Option<CallId> {
        let args = match part {
            KeyPart::Hash(hash) => *hash,
            KeyPart::Custom(text) => xxh3_128(text.as_bytes()),
            KeyPart::Unkeyable(_) => return None,
        };
        let mut function = site.path_hash();
        // Generic functions and methods of generic impls only: a hash of each
        // type name, folded in order.
        for name in self_type.iter().chain(generics) {
            function = xxhash_rust::xxh3::xxh3_64_with_seed(name.as_bytes(), function);
        }
        Some(CallId { function, args })
    }

    /// 64 bits of the identity, to spread calls over shards and stripes.
    #[inline]
    pub(crate) fn spread(&self) -> u64 {
        self.function ^ (self.args as u64) ^ ((self.args >> 64) as u64).rotate_left(32)
    }
}

impl std::hash::Hash for CallId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.spread());
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

    /// Appends the entry key (see [`entry_key`](Namespace::entry_key)) to `key`.
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
/// `request.rs`).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The key part of one value, through ciborium directly.
    fn hash_of<T: Serialize + ?Sized>(value: &T) -> KeyPart {
        let mut encoding = Vec::new();
        ciborium::into_writer(value, &mut encoding).unwrap();
        hash_encoding(&encoding)
    }

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
        assert_eq!(
            function_path(
                "app::Repo::load_invalidate::{{closure}}::__cachetool_site",
                "_invalidate"
            ),
            "app.Repo.load"
        );
    }

    #[test]
    fn hash_is_cbor_xxh3_and_stable() {
        // Pinned: a change here orphans every stored entry of every user.
        let part = KeyArgs::new(2).arg(&1u64).arg("a").finish();
        let mut cbor = Vec::new();
        ciborium::into_writer(&(1u64, "a"), &mut cbor).unwrap();
        assert_eq!(cbor, [0x82, 0x01, 0x61, b'a']);
        // The hash itself, written out: a change of the encoder, of the hash
        // function or of its crate shows here.
        assert_eq!(part.to_string(), "46c7a659de89e99f4e59b3cc51b483c3");
        assert_eq!(part, KeyPart::Hash(0x46c7a659de89e99f4e59b3cc51b483c3));
        assert_eq!(hex128(0xab), format!("{:032x}", 0xabu128));
        assert_eq!(hex128(u128::MAX), "f".repeat(32));
        let mut rng = fastrand::Rng::with_seed(6);
        for _ in 0..1000 {
            let hash = rng.u128(..);
            assert_eq!(hex128(hash), format!("{hash:032x}"));
        }
        let digits = (0..16u128).fold(0, |all, digit| all << 8 | digit);
        assert_eq!(hex128(digits), format!("{digits:032x}"));
    }

    #[test]
    fn key_args_encode_exactly_as_the_tuple() {
        let by_args = KeyArgs::new(3)
            .arg(&1u64)
            .arg("a")
            .arg(&vec![1.5f64])
            .finish();
        assert_eq!(by_args, hash_of(&(1u64, "a", vec![1.5f64])));
        assert_eq!(KeyArgs::new(0).finish(), hash_of(&Vec::<u8>::new()));
        let many: Vec<u8> = (0..300).map(|i| i as u8).collect();
        let mut args = KeyArgs::new(many.len());
        for item in &many {
            args = args.arg(item);
        }
        assert_eq!(args.finish(), hash_of(&many));
    }

    #[test]
    fn keys_have_the_documented_shape() {
        let namespace = Namespace::new("app");
        let entry = namespace.entry_key(
            "m.f",
            None,
            &["alloc::string::String"],
            &KeyPart::Custom("a:b c".into()),
        );
        assert_eq!(entry, "app:entry:m.f<alloc.string.String>:a:b c");
        assert_eq!(
            namespace.lock_key(&entry),
            "app:lock:m.f<alloc.string.String>:a:b c"
        );
        assert_eq!(namespace.tag_key("user:7"), "app:tag:user:7");
        let tags = TagKeys::new("old".into(), &namespace, &["a", "user:7", ""]);
        let keys: Vec<&str> = tags.iter().collect();
        assert_eq!(keys, ["app:tag:a", "app:tag:user:7", "app:tag:"]);
        assert_eq!(
            TagKeys::new(String::new(), &namespace, &[]).iter().count(),
            0
        );
        assert_eq!(namespace.epoch_key(), "app:epoch");
        let method =
            namespace.entry_key("m.W<_>.get", Some("m::W<u8>"), &["u16"], &KeyPart::Hash(0));
        assert_eq!(
            method,
            format!("app:entry:m.W<_>.get<m.W<u8>,u16>:{}", "0".repeat(32))
        );
    }

    #[test]
    fn self_is_keyed_only_where_the_path_does_not_name_it() {
        fn marker() -> &'static str {
            "app::Repo::get::__cachetool_site"
        }
        fn generic_marker() -> &'static str {
            "app::Wrapper<_>::get::__cachetool_site"
        }
        fn trait_default_marker() -> &'static str {
            "app::Trait::get::__cachetool_site"
        }
        assert!(!Site::new(marker, "", None, 0, true).keys_self("app::Repo"));
        assert!(Site::new(generic_marker, "", None, 0, true).keys_self("app::Wrapper<u8>"));
        assert!(Site::new(trait_default_marker, "", None, 0, true).keys_self("app::Repo"));
        assert!(!Site::new(trait_default_marker, "", Some("named"), 0, true).keys_self("app::Repo"));
    }
}
