//! What `#[cached]` expands to calls, and nothing else should.
//!
//! Everything here is an implementation detail of the macro: it may change in
//! any release without notice.

use std::fmt::Display;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::background::Revalidation;
pub use crate::call::many::{Batch, Lookups};
pub use crate::call::unless::{unless_ok, unless_value, StoreUnless, Unless};
pub use crate::call::{
    look_locally, ttl_ok, ttl_value, EntryTtl, LocalLook, Looked, Request, TtlOf,
};
pub use crate::key::{KeyArgs, KeyPart, Site};
pub use core::any::{type_name, type_name_of_val};

/// The bounds a cached function's return value (or its `Ok` value) must meet.
///
/// A type that misses some is one error per generated function, naming this
/// trait (`do_not_recommend`), rather than one per missing bound, each with
/// the list of the types that have it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be cached: it must be `Clone + Serialize + DeserializeOwned + Send + Sync + 'static`",
    label = "not `Clone + Serialize + DeserializeOwned + Send + Sync + 'static`",
    note = "return an owned type that derives `Clone`, `Serialize` and `Deserialize`; a method that a `#[cached]` impl block caches can be left uncached with `#[cached(off)]`"
)]
pub trait Cacheable: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {}
#[diagnostic::do_not_recommend]
impl<T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static> Cacheable for T {}

/// An argument that a recomputation in the background (`stale`,
/// `refresh_ahead`) takes a copy of.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be copied for a recomputation in the background: it must be `Clone + Send + 'static`",
    label = "not `Clone + Send + 'static`",
    note = "`stale` and `refresh_ahead` recompute after the call returned, with owned copies of the arguments"
)]
pub trait OwnedArg: Clone + Send + 'static {}
#[diagnostic::do_not_recommend]
impl<T: Clone + Send + 'static> OwnedArg for T {}

/// A `&T` argument that a recomputation in the background takes an owned
/// copy of (`String` for `&str`, `Vec<T>` for `&[T]`, `PathBuf` for `&Path`).
#[diagnostic::on_unimplemented(
    message = "`&{Self}` can't be copied for a recomputation in the background: `{Self}` must be `ToOwned` (or `Clone`) into something `Send + 'static`",
    label = "no owned copy that is `Send + 'static`",
    note = "`stale` and `refresh_ahead` recompute after the call returned, with owned copies of the arguments"
)]
pub trait OwnedRefArg: ToOwned<Owned = <Self as OwnedRefArg>::Copy> {
    /// The owned copy.
    type Copy: std::borrow::Borrow<Self> + Send + 'static;
}
#[diagnostic::do_not_recommend]
impl<T: ToOwned + ?Sized> OwnedRefArg for T
where
    T::Owned: Send + 'static,
{
    type Copy = T::Owned;
}

/// A copy of an argument taken by value, for a recomputation in the background.
pub fn owned_value<T: OwnedArg>(arg: &T) -> T {
    arg.clone()
}

/// An owned copy of an argument taken by reference, which knows the type it
/// lends again (so the macro need not name it).
pub struct OwnedCopy<T: OwnedRefArg + ?Sized> {
    copy: T::Copy,
    lends: std::marker::PhantomData<fn(&T)>,
}

/// An owned copy of an argument taken by reference.
pub fn owned_ref<T: OwnedRefArg + ?Sized>(arg: &T) -> OwnedCopy<T> {
    OwnedCopy {
        copy: arg.to_owned(),
        lends: std::marker::PhantomData,
    }
}

/// The argument again, borrowed from its copy.
pub fn borrow_owned<T: OwnedRefArg + ?Sized>(owned: &OwnedCopy<T>) -> &T {
    std::borrow::Borrow::borrow(&owned.copy)
}

/// A key argument of a method that a `#[cached]` impl block caches without
/// an attribute of its own: its error says how to leave the method uncached.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be part of the key: it is not `Serialize`",
    label = "not `Serialize`",
    note = "leave this argument out of the key with `#[cached(skip(..))]` on the method, or leave the method uncached with `#[cached(off)]`"
)]
pub trait MethodKeyArg: Serialize {}
#[diagnostic::do_not_recommend]
impl<T: Serialize + ?Sized> MethodKeyArg for T {}

impl KeyArgs {
    /// [`KeyArgs::arg`], for a method cached by its impl block (see [`MethodKeyArg`]).
    #[inline]
    pub fn method_arg<T: MethodKeyArg + ?Sized>(&mut self, arg: &T) -> &mut KeyArgs {
        self.arg(arg)
    }
}

/// The `Ok` type of a function returning `Result`, where the macro can't read
/// it from the return type's syntax.
pub trait Outcome {
    /// What is stored: the `Ok` value.
    type Stored;
}
impl<T, E> Outcome for Result<T, E> {
    type Stored = T;
}

/// A tag: anything that reads as a string.
#[diagnostic::on_unimplemented(
    message = "a tag must be a string (`&str`, `String`, ...), not `{Self}`",
    label = "this tag is not a string"
)]
pub trait TagName {
    /// The tag as a string.
    fn tag_name(&self) -> &str;
}
impl TagName for str {
    fn tag_name(&self) -> &str {
        self
    }
}
impl TagName for String {
    fn tag_name(&self) -> &str {
        self
    }
}
impl TagName for std::borrow::Cow<'_, str> {
    fn tag_name(&self) -> &str {
        self
    }
}
impl TagName for Box<str> {
    fn tag_name(&self) -> &str {
        self
    }
}
impl TagName for std::sync::Arc<str> {
    fn tag_name(&self) -> &str {
        self
    }
}
impl<T: TagName + ?Sized> TagName for &T {
    fn tag_name(&self) -> &str {
        (**self).tag_name()
    }
}

/// Reads one tag expression as a string.
pub fn tag<T: TagName + ?Sized>(tag: &T) -> &str {
    tag.tag_name()
}

/// Starts the hash of `count` key arguments: `key_args(2).arg(&a).arg(&b).finish()`,
/// each `.arg` at its argument's span, so a non-`Serialize` argument's error
/// points at it (once).
#[inline]
pub fn key_args(count: usize) -> KeyArgs {
    KeyArgs::new(count)
}

/// The key part given by `key = ...`.
pub fn key_custom<K: Display + ?Sized>(key: &K) -> KeyPart {
    KeyPart::custom(key)
}

/// `ttl = 600`: whole seconds.
pub const fn ttl_secs(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// `ttl = <expr>`: the expression must be a [`Duration`].
pub const fn ttl(duration: Duration) -> Duration {
    duration
}

/// What `#[cached]` wraps the generated body of an `async fn` in (`function`)
/// and of its companions (`companion`): the body itself, with the `tokio`
/// feature.
#[cfg(feature = "tokio")]
#[doc(hidden)]
#[macro_export]
macro_rules! __cachetool_async_fn {
    (function $run:block) => {
        $run
    };
    (companion $run:block) => {
        $run
    };
}

/// Without the `tokio` feature, an `async fn` can't be cached (its waits
/// would need a runtime this build leaves out): one error naming the feature,
/// which the macro places on the function's `async`, instead of "no method
/// `get_or_compute_async`" on each generated function. The bodies become
/// `unreachable!()` so that nothing else is reported about them.
#[cfg(not(feature = "tokio"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __cachetool_async_fn {
    (function $run:block) => {{
        ::core::compile_error!(
            "#[cached] on an `async fn` needs the `tokio` feature of cachetool: \
             `cargo add cachetool --features tokio`"
        );
        ::core::unreachable!()
    }};
    (companion $run:block) => {
        ::core::unreachable!()
    };
}

pub use crate::__cachetool_async_fn as async_fn;
