//! The heap memory a cache holds per entry: cachetool's in-memory `#[cached]`,
//! `quick_cache::sync::Cache`, `moka::sync::Cache` and `cached`'s default
//! `#[cached]`, each filled with the same 100,000 distinct `u64 -> u64` entries.
//!
//! A counting global allocator (`memory_per_entry/counting.rs`) gives the heap
//! bytes in use; a cache's figure is the bytes in use after it is built and
//! filled minus the bytes in use before it was built, so the empty cache's own
//! tables count too. This is a bench target of its own so that the counting
//! allocator stays out of the timing benches.
//!
//! `scripts/bench` runs it (`cargo bench --bench memory_per_entry`) and writes
//! the table of BENCHMARKS.md from the JSON it writes to `$MEMORY_COUNTS`.
//! The counts repeat from run to run (moka's within a few kilobytes, its
//! maintenance varies): one run is enough.

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::LazyLock;

use cachetool::{cached, Cache};

#[path = "memory_per_entry/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// Each cache is filled with keys `0..ENTRIES`.
const ENTRIES: u64 = 100_000;
/// The bound of the bounded caches: twice the entries, so that none is
/// evicted (cachetool's capacity also counts its dogpile locks while they are
/// held). The bound sizes some tables up front (moka's and cachetool's
/// frequency sketches): those bytes count, as a user with this bound pays them.
const CAPACITY: usize = 200_000;

/// Bodies run: the second pass over the keys counts the entries a cache kept.
static BODIES: AtomicU64 = AtomicU64::new(0);

fn body(n: u64) -> u64 {
    BODIES.fetch_add(1, Relaxed);
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

static CACHETOOL: LazyLock<Cache> =
    LazyLock::new(|| Cache::builder().capacity(CAPACITY).build().unwrap());

#[cached(cache = CACHETOOL)]
fn cachetool_f(n: u64) -> u64 {
    body(n)
}

/// The `cached` crate's function, in its own module: its attribute and
/// cachetool's share a name.
mod peer {
    use cached::proc_macro::cached;

    /// `#[cached]` with every default: an unbounded store behind a lock, in
    /// the static `PLAIN`.
    #[cached]
    pub(crate) fn plain(n: u64) -> u64 {
        super::body(n)
    }
}

/// One cache's figures, as `scripts/bench` reads them.
struct Measured {
    row: &'static str,
    /// Heap bytes of the cache built and still empty.
    empty: isize,
    /// Heap bytes of the cache built and filled with `ENTRIES` keys.
    filled: isize,
    /// How many of the `ENTRIES` keys it still held after the measurement.
    held: u64,
}

impl Measured {
    fn json(&self) -> String {
        format!(
            r#"{{"kind": "memory", "row": "{}", "entries": {ENTRIES}, "capacity": {CAPACITY}, "empty_bytes": {}, "filled_bytes": {}, "held": {}}}"#,
            self.row, self.empty, self.filled, self.held
        )
    }
}

/// Measures one cache: `build` makes it (or forces its static), `call` runs
/// the memoized function of one key through it, `settle` lets it finish work
/// it defers (moka's pending maintenance) before the bytes are read.
fn measure<C>(
    row: &'static str,
    build: impl FnOnce() -> C,
    call: impl Fn(&C, u64) -> u64,
    settle: impl Fn(&C),
) -> Measured {
    let before = counting::in_use();
    let cache = build();
    settle(&cache);
    let empty = counting::in_use() - before;
    for n in 0..ENTRIES {
        black_box(call(&cache, n));
    }
    settle(&cache);
    let filled = counting::in_use() - before;
    // After the reading: the entries kept, by the bodies a second pass runs.
    let bodies = BODIES.load(Relaxed);
    for n in 0..ENTRIES {
        black_box(call(&cache, n));
    }
    let held = ENTRIES - (BODIES.load(Relaxed) - bodies);
    Measured {
        row,
        empty,
        filled,
        held,
    }
}

fn main() {
    let rows = [
        measure(
            "cachetool",
            || LazyLock::force(&CACHETOOL),
            |_, n| cachetool_f(n),
            |_| {},
        ),
        measure(
            "quick_cache",
            || quick_cache::sync::Cache::<u64, u64>::new(CAPACITY),
            |cache, n| match cache.get_or_insert_with(&n, || Ok::<_, Infallible>(body(n))) {
                Ok(value) => value,
                Err(never) => match never {},
            },
            |_| {},
        ),
        measure(
            "moka",
            || moka::sync::Cache::<u64, u64>::new(CAPACITY as u64),
            |cache, n| cache.get_with(n, || body(n)),
            // moka applies inserts to its policy later, in batches: settle
            // them so that the figure is the cache's at rest.
            |cache| cache.run_pending_tasks(),
        ),
        measure(
            "cached_default",
            || LazyLock::force(&peer::PLAIN),
            |_, n| peer::plain(n),
            |_| {},
        ),
    ];
    let mut json = Vec::new();
    for row in &rows {
        println!(
            "{:<16} {:>7.1} bytes per entry ({} bytes filled, {} empty; {} of {ENTRIES} entries held)",
            row.row,
            row.filled as f64 / ENTRIES as f64,
            row.filled,
            row.empty,
            row.held
        );
        json.push(row.json());
    }
    if let Some(path) = std::env::var_os("MEMORY_COUNTS") {
        let text = format!("[\n{}\n]\n", json.join(",\n"));
        std::fs::write(&path, text).expect("write $MEMORY_COUNTS");
    }
}
