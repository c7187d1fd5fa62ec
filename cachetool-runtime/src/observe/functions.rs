//! Each function's own counters in a cache, found without a lock or an
//! allocation on every call after a function's first.
//!
//! Every [`Site`] has a number of its own in the process (`Site::number`),
//! and each cache keeps a table indexed by it: chunks of slots, each chunk
//! made the first time one of its functions is counted, each slot holding its
//! function's [`Function`] once that is first counted. Reading a set slot is
//! a few atomic loads.

use std::fmt;
use std::sync::OnceLock;

use crate::key::Site;
use crate::stats::{Stats, Tally};

/// Functions per chunk.
const CHUNK: usize = 64;
/// Chunks per cache: room for the first 8,192 functions of a process. Calls of
/// any later one are counted in the cache's totals only.
const CHUNKS: usize = 128;

type Chunk = [OnceLock<Box<Function>>; CHUNK];

/// The per-function counters of one cache.
pub(crate) struct Functions {
    chunks: [OnceLock<Box<Chunk>>; CHUNKS],
}

/// One function's counters in one cache.
pub(crate) struct Function {
    pub(crate) site: &'static Site,
    pub(crate) tally: Tally,
    /// Its handles in the metrics recorder (feature `metrics`).
    #[cfg(feature = "metrics")]
    pub(crate) metrics: super::metrics::FunctionMetrics,
}

impl Default for Functions {
    fn default() -> Functions {
        Functions {
            chunks: [const { OnceLock::new() }; CHUNKS],
        }
    }
}

impl Functions {
    /// The counters of `site` in the cache of prefix `cache` (made on its
    /// first call), or `None` past the table's capacity.
    #[inline]
    pub(crate) fn of(&self, site: &'static Site, cache: &str) -> Option<&Function> {
        let index = usize::try_from(site.number()).ok()?.checked_sub(1)?;
        let chunk = self
            .chunks
            .get(index / CHUNK)?
            .get_or_init(|| Box::new([const { OnceLock::new() }; CHUNK]));
        Some(chunk[index % CHUNK].get_or_init(|| Box::new(Function::new(site, cache))))
    }

    /// Every function counted so far.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Function> {
        self.chunks
            .iter()
            .filter_map(OnceLock::get)
            .flat_map(|chunk| chunk.iter().filter_map(OnceLock::get))
            .map(|function| &**function)
    }
}

impl Function {
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    fn new(site: &'static Site, cache: &str) -> Function {
        Function {
            site,
            tally: Tally::default(),
            #[cfg(feature = "metrics")]
            metrics: super::metrics::FunctionMetrics::register(site.path(), cache),
        }
    }

    /// The function's identity in keys.
    pub(crate) fn path(&self) -> &'static str {
        self.site.path()
    }

    pub(crate) fn snapshot(&self) -> Stats {
        self.tally.snapshot()
    }
}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Function::path))
            .finish()
    }
}
