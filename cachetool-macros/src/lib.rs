//! The `#[cached]` attribute of [cachetool](https://docs.rs/cachetool).
//!
//! Use it through the `cachetool` crate, which re-exports it together with
//! the runtime that the generated code calls.
//!
//! The macro runs one way, each stage in its own module: parse the options
//! (`attr.rs`) and the function (`ast.rs`), check what spans several of them
//! (`valid.rs`), then either generate the function and its companions
//! (`cached_fn.rs`, over `expand.rs`, `companions.rs` and `many.rs`) or, on
//! any error, emit the function unchanged with stand-ins for its companions
//! and every error at once (`fallback.rs`). An impl block goes through
//! `impl_block.rs`, which runs the same stages for each method.

mod ast;
mod attr;
mod cached_fn;
mod companions;
mod errors;
mod expand;
mod fallback;
mod impl_block;
mod many;
mod revalidate;
mod valid;

use proc_macro::TokenStream;
use proc_macro2::Span;
use syn::{Item, ItemFn};

use crate::ast::Function;
use crate::errors::Errors;

/// Memoizes a function (or a method, or every `&self` method of an `impl`
/// block) in a [`cachetool::Cache`].
///
/// ```text
/// #[cachetool::cached(ttl = 600, tags = ["users", format!("user:{id}")])]
/// pub fn load_user(id: u64) -> User { /* ... */ }
/// ```
///
/// The arguments are hashed into the key, so they must be `Serialize`; the
/// return value (or the `Ok` value of a `Result`, since an `Err` is never
/// cached) must be `Clone + Serialize + DeserializeOwned + Send + Sync + 'static`.
/// For methods, the receiver is never part of the key. `async fn`s (and async
/// methods, and the methods of an `#[async_trait]` impl) are supported: their
/// waits are awaited on tokio.
///
/// # Options
///
/// All are optional, in any order, separated by commas:
///
/// - `ttl = 600` (whole seconds) or `ttl = <expr>` (a `std::time::Duration`,
///   such as `Duration::from_millis(1500)`): how long an entry lives. Without
///   it, the cache's default. `ttl = |token: &Token| token.expires_in()`: each
///   value's own TTL, from a closure (or `fn`) given a reference to the value
///   about to be stored (the `Ok` value of a `Result`); it sees only the value.
/// - `fail_safe = 3600` (whole seconds) or `fail_safe = <Duration expr>`,
///   only on a function returning `Result`: when the body returns `Err` and
///   the entry stopped being fresh less than this long ago, the call returns
///   it (`Ok(old)`), and the key's calls get it without running the body for
///   the cache's `fail_safe_throttle`.
/// - `stale = 60` (whole seconds) or `stale = <Duration expr>`, with `ttl`:
///   for this long after an entry's TTL ran out, a call returns it at once
///   and one recomputation runs in the background (with owned copies of the
///   arguments: `Clone`, or `ToOwned` for a reference).
/// - `refresh_ahead = 0.8`, with `ttl`: a call that finds an entry older than
///   this fraction of its TTL returns it and starts a recomputation in the
///   background.
/// - `jitter = 0.1`: each stored entry's TTL is drawn uniformly within this
///   fraction of it, either way (a float literal between 0 and 1, exclusive).
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
/// - `unless = |value| value.is_empty()`: a value for which the closure (or
///   function) returns true is returned but not stored. It is given a
///   reference to the value (to the `Ok` value of a `Result`); its argument's
///   type needs no annotation. It may use the function's arguments and
///   `self` (`unless = |v| v.len() > limit`), in an `async fn` too.
/// - `companions = false`: no companions; `companions = [invalidate, peek]`:
///   only those listed; `companions = true`: all that apply. Without it, see
///   below.
///
/// # Companions
///
/// Next to the function (inside the `impl` for methods), with its visibility,
/// generics and parameters (and `&self` for methods); none warns when unused.
/// A function, an associated function and a method of a `#[cached]` impl
/// block get all four by default; a method with a receiver (`&self`...) under
/// an attribute of its own gets `_invalidate` and `_refresh`, and `_peek` and
/// `_many` only when `companions` names them: the attribute can't see
/// whether the method is in a trait impl, where every companion must be
/// declared by the trait.
///
/// - `{name}_invalidate(...) -> cachetool::Result<()>` drops the entry of
///   these arguments.
/// - `{name}_refresh(...) -> <return type>` runs the body now, stores its
///   value and returns it.
/// - `{name}_peek(...) -> Option<T>`: the stored value of these arguments (`T`
///   is the `Ok` type of a `Result`) if there is a current one, without running
///   the body or waiting for a run; counted neither as a hit nor as a miss.
/// - `{name}_many(<other args>, items) -> Vec<<return type>>`, for functions
///   with key arguments: the function for each item, in order. An item is the
///   key argument, or a tuple of the key arguments where there are several;
///   skipped arguments come first and are taken once: `row_many(&db, [1, 2])`.
///   Every entry is read at once (one round trip on Redis); the misses are
///   computed one by one, each under its own dogpile protection. Lifetimes
///   that the key arguments' types elide (`&str`, `Cow<str>`) become
///   lifetime parameters of `_many`, one per elided lifetime (one per
///   argument for a path type that may hide some). A function whose
///   `unless` uses a key argument gets no `_many` (it makes the closure once
///   for all items).
///
/// Companions of an `async fn` are `async`. An `#[async_trait]` method gets
/// none (they would have to be members of the trait).
///
/// # On an `impl` block
///
/// `#[cached(...)]` on an `impl` block caches every method taking `&self`
/// with the block's options, as if it carried the attribute. A method's own
/// `#[cached(...)]` adds its tags to the block's and replaces the block's
/// other options (and caches a method of any receiver); `#[cached(off)]`
/// leaves a method uncached. Methods without `&self` are left alone. The
/// block's `skip(...)` applies to the methods that have those arguments; a
/// block can't set `name`.
///
/// On a trait impl (`#[cached] impl Store for Disk`), the methods stay in the
/// trait impl and their companions go into an inherent `impl Disk` of the
/// same generics and where clause after it, so that the trait declares none
/// of them; a generic parameter that only the trait uses (`impl<T> Load<T>
/// for Repo`) is then an error, unless the block sets `companions = false`.
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
    let attr = attr.into();
    let item: proc_macro2::TokenStream = item.into();
    let expanded = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(item_fn)) => on_function(attr, item, &item_fn),
        Ok(Item::Impl(block)) => impl_block::cached(attr, block),
        Ok(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "#[cached] can only be used on functions and impl blocks",
            );
            fallback::not_an_item(item, error)
        }
        Err(error) => fallback::not_an_item(item, error),
    };
    expanded.into()
}

/// `#[cached]` on a function: parse, validate, then expand or, on errors,
/// fall back to `item` (the tokens as written) with the errors.
fn on_function(
    attr: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
    item_fn: &ItemFn,
) -> proc_macro2::TokenStream {
    let mut errors = Errors::default();
    let options = attr::parse(attr, &mut errors);
    let function = Function::new(item_fn, options.skipped());
    valid::check(&options, &function, &mut errors);
    match errors.finish() {
        Ok(()) => cached_fn::expand(&options, &function).into_tokens(),
        Err(error) => fallback::function(&item, &options, &function, error),
    }
}
