//! A hit in memory allocates nothing, counting per-function stats included
//! (counted by a global allocator that counts this thread's allocations
//! while asked to).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::LazyLock;

use cachetool::{cached, Cache};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to `System` unchanged; the counting only
// reads and writes const-initialized thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn count() {
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        }
    });
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The allocations of this thread while `f` runs.
fn allocations_of<R>(f: impl FnOnce() -> R) -> (usize, R) {
    ALLOCATIONS.with(|count| count.set(0));
    COUNTING.with(|counting| counting.set(true));
    let result = f();
    COUNTING.with(|counting| counting.set(false));
    (ALLOCATIONS.with(Cell::get), result)
}

static CACHE: LazyLock<Cache> = LazyLock::new(Cache::memory);

// Tags that are literals: a `format!` tag would allocate its own string on
// every call, hit or not, which is the caller's expression, not the cache.
#[cached(cache = CACHE, tags = ["numbers", "more"])]
fn tagged(n: u64, label: &str) -> u64 {
    n + label.len() as u64
}

#[cached(cache = CACHE)]
fn untagged(n: u64) -> u64 {
    n * 2
}

#[test]
fn a_hit_in_memory_allocates_nothing() {
    // The first calls make the function's counters, keys and versions.
    for _ in 0..3 {
        assert_eq!(tagged(7, "ab"), 9);
        assert_eq!(untagged(7), 14);
    }
    let (allocations, sum) = allocations_of(|| {
        let mut sum = 0;
        for _ in 0..100 {
            sum += tagged(7, "ab") + untagged(7);
        }
        sum
    });
    assert_eq!(sum, 100 * (9 + 14));
    assert_eq!(allocations, 0, "allocations in 200 hits");
    let by_function = CACHE.stats_by_function();
    let hits: u64 = by_function.values().map(|stats| stats.hits).sum();
    assert_eq!(hits, 2 * 2 + 200, "the hits were counted per function");
}
