//! Where a `#[cached]` function lives, and its path in keys.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::OnceLock;

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
    #[inline]
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
    #[inline]
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
    #[inline]
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
pub(super) fn function_path(marker_type_name: &str, companion_suffix: &str) -> String {
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
