//! The `#[cached]` attribute of [cachetool](https://docs.rs/cachetool).
//!
//! Use it through the `cachetool` crate, which re-exports it together with
//! the runtime that the generated code calls.

mod ast;
mod attr;
mod companions;
mod errors;
mod expand;
mod valid;

use proc_macro::TokenStream;

/// Memoizes a function (or a method) in a [`cachetool::Cache`].
///
/// ```text
/// #[cachetool::cached(ttl = 600, tags = ["users", format!("user:{id}")])]
/// pub fn load_user(id: u64) -> User { /* ... */ }
/// ```
///
/// The arguments are hashed into the key, so they must be `Serialize`; the
/// return value (or the `Ok` value of a `Result`, since an `Err` is never
/// cached) must be `Clone + Serialize + DeserializeOwned + Send + Sync + 'static`.
/// For methods, the receiver is never part of the key.
///
/// # Options
///
/// All are optional, in any order, separated by commas:
///
/// - `ttl = 600` (whole seconds) or `ttl = <expr>` (a `std::time::Duration`,
///   such as `Duration::from_millis(1500)`): how long an entry lives. Without
///   it, the cache's default.
/// - `tags = ["users", format!("user:{id}")]`: tags of the entry, which
///   `Cache::clean` drops together. Each is an expression over the
///   arguments that reads as a string (`&str`, `String`, ...).
/// - `key = <expr>`: the key is this expression (anything `Display`) instead of
///   the hash of the arguments.
/// - `cache = <expr>`: the cache to use, anything that derefs to
///   `cachetool::Cache` (a `static LazyLock<Cache>`, a call returning `&Cache`,
///   `self.cache`...). Without it, `cachetool::global()`.
/// - `skip(db, conn)`: arguments left out of the key. Arguments that can't be
///   part of it (`&mut T`, `impl Trait`) must be skipped.
/// - `name = "users.load"`: the function's identity in keys, instead of its
///   module path. It can't contain `:` or `@`.
/// - `version = 2`: a `u32` added to keys, to orphan the entries of an older
///   version of the function.
/// - `lock = false`: lets concurrent misses of one key all run the body,
///   instead of one running it while the others wait for its value.
///
/// # Companions
///
/// Next to the function (inside the `impl` for methods), with its visibility,
/// generics and parameters (and `&self` for methods):
///
/// - `{name}_invalidate(...) -> cachetool::Result<()>` drops the entry of
///   these arguments.
/// - `{name}_refresh(...) -> <return type>` runs the body now, stores its
///   value and returns it.
///
/// An `async fn` needs cachetool's `tokio` feature; without it, the
/// attribute is a compile error at the `async` naming the feature.
///
/// # Not supported
///
/// `const fn`, `extern` functions, `&mut self` methods, and return types
/// that borrow or are `impl Trait`.
///
/// [`cachetool::Cache`]: https://docs.rs/cachetool/latest/cachetool/struct.Cache.html
#[proc_macro_attribute]
pub fn cached(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::cached(attr.into(), item.into()).into()
}
