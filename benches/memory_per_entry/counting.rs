//! A global allocator that counts the heap bytes in use: `std::alloc::System`
//! underneath, with a running total of the bytes allocated minus the bytes freed.
//!
//! Only the `memory_per_entry` bench installs it, so the timing benches keep
//! the plain system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

/// The system allocator, counting.
pub(crate) struct Counting;

/// Bytes allocated minus bytes freed since the start, by every thread. Signed:
/// a block allocated before a measurement and freed during it counts negative.
static IN_USE: AtomicIsize = AtomicIsize::new(0);

/// The heap bytes in use now, as the requested sizes add up (not counting the
/// allocator's own rounding and bookkeeping, the same for every cache).
pub(crate) fn in_use() -> isize {
    IN_USE.load(Relaxed)
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged and only adds to a counter besides, so `System`'s guarantees hold.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as it came (see the impl's comment).
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            IN_USE.fetch_add(layout.size() as isize, Relaxed);
        }
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as it came.
        let block = unsafe { System.alloc_zeroed(layout) };
        if !block.is_null() {
            IN_USE.fetch_add(layout.size() as isize, Relaxed);
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: forwarded as it came.
        unsafe { System.dealloc(block, layout) };
        IN_USE.fetch_sub(layout.size() as isize, Relaxed);
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as it came.
        let moved = unsafe { System.realloc(block, layout, new_size) };
        // On failure the old block stays allocated, at its old size.
        if !moved.is_null() {
            IN_USE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        moved
    }
}
