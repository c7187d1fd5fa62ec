// The function keeps its attributes, visibility and `unsafe`; `#[cfg]`
// applies to the companions too; a macro_rules! can generate #[cached] fns.
#![deny(unused, missing_docs)]
//! Attributes.

use cachetool::cached;

/// Documented.
#[cached]
#[inline]
#[allow(clippy::needless_return)]
#[must_use]
pub fn documented(n: u32) -> u32 {
    #![allow(unused_parens)]
    return (n + 1);
}

#[cfg(any())]
#[cached]
fn configured_out(n: u32) -> u32 {
    n
}

#[cached]
#[cfg(all())]
fn configured_in(n: u32) -> u32 {
    n
}

#[cached]
#[cfg(any())]
fn configured_out_after(n: u32) -> u32 {
    n
}

#[cached]
unsafe fn raw(ptr: usize) -> usize {
    // An `unsafe fn` body is an unsafe context, also inside the generated closure.
    let value = 7;
    *(&value as *const i32) as usize + ptr
}

macro_rules! cached_const {
    ($name:ident, $value:expr, $ttl:expr) => {
        #[cached(ttl = $ttl, tags = [stringify!($name)])]
        fn $name() -> u32 {
            $value
        }
    };
}

cached_const!(forty_two, 42, 600);
cached_const!(forty_three, 43, std::time::Duration::from_secs(1));

fn main() {
    assert_eq!(documented(1), 2);
    documented_invalidate(1).unwrap();
    assert_eq!(documented_refresh(1), 2);
    assert_eq!(configured_in(1), 1);
    configured_in_invalidate(1).unwrap();
    assert_eq!(configured_in_refresh(1), 1);
    unsafe {
        assert_eq!(raw(1), 8);
        assert_eq!(raw_refresh(1), 8);
    }
    raw_invalidate(1).unwrap();
    assert_eq!(forty_two(), 42);
    assert_eq!(forty_three(), 43);
    forty_two_invalidate().unwrap();
    forty_three_invalidate().unwrap();
    assert_eq!(forty_two_refresh() + forty_three_refresh(), 85);
}
