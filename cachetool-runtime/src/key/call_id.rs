//! A call's identity, without building a string.

use xxhash_rust::xxh3::xxh3_128;

use super::{KeyPart, Site};

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
    #[inline]
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
        let function = match (self_type, generics) {
            (None, []) => site.path_hash(),
            _ => typed_function(site, self_type, generics),
        };
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

/// The function part of a generic function's or a generic impl's method's
/// identity: its path's hash with a hash of each type name folded in, in order.
fn typed_function(site: &Site, self_type: Option<&str>, generics: &[&str]) -> u64 {
    let mut function = site.path_hash();
    for name in self_type.iter().chain(generics) {
        function = xxhash_rust::xxh3::xxh3_64_with_seed(name.as_bytes(), function);
    }
    function
}
