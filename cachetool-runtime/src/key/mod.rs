//! Building the keys of entries, tags, locks and the namespace epoch.
//!
//! An entry key is `{prefix}:entry:{function path}:{key part}`. The function
//! path never contains `:` (the `::` of Rust paths become `.`), so the first
//! `:` after `entry:` ends it and a user's `key = ...` can hold anything
//! without two different functions or arguments ever sharing a key.
//!
//! - `site.rs`: a function's identity (its path, `name`, `version`);
//! - `args.rs`: the arguments' part (CBOR in `cbor/`, made canonical by
//!   `canonical.rs`, hashed with xxh3-128), or a `key = ...` text;
//! - `call_id.rs`: a call's identity without a string, for the local tier
//!   and the flights;
//! - `namespace.rs`: the string keys of a remote backend.

mod args;
mod call_id;
pub(crate) mod canonical;
pub(crate) mod cbor;
mod namespace;
mod site;

#[cfg(test)]
pub(crate) use args::hash_encoding;
pub use args::{KeyArgs, KeyPart};
pub(crate) use call_id::CallId;
pub(crate) use namespace::{Namespace, TagKeys};
pub(crate) use site::dotted;
pub use site::Site;

#[cfg(test)]
mod tests;
