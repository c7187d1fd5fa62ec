// Argument patterns: `_` is never in the key; other patterns are, under a
// generated name, and destructure as usual in the body.
use std::sync::atomic::{AtomicUsize, Ordering};

use cachetool::cached;
use serde::Serialize;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[derive(Serialize)]
struct Point {
    x: i32,
    y: i32,
}

#[cached]
fn ignore(_: u32, b: u32) -> u32 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    b
}

#[cached]
fn sum((a, b): (u32, u32), mut c: u32) -> u32 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    c += 1;
    a + b + c
}

#[cached]
fn norm(Point { x, y }: Point, &scale: &i32, ref name: String) -> String {
    CALLS.fetch_add(1, Ordering::SeqCst);
    format!("{name}: {}", (x.abs() + y.abs()) * scale)
}

fn main() {
    assert_eq!(ignore(1, 2), 2);
    assert_eq!(ignore(9, 2), 2);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    ignore_invalidate(0, 2).unwrap();
    assert_eq!(ignore_refresh(0, 2), 2);

    assert_eq!(sum((1, 2), 3), 7);
    assert_eq!(sum((1, 2), 3), 7);
    assert_eq!(sum((2, 1), 3), 7);
    assert_eq!(CALLS.load(Ordering::SeqCst), 4);
    sum_invalidate((1, 2), 3).unwrap();
    assert_eq!(sum_refresh((1, 2), 3), 7);

    assert_eq!(norm(Point { x: 1, y: -2 }, &2, "p".into()), "p: 6");
    assert_eq!(norm(Point { x: 1, y: -2 }, &2, "p".into()), "p: 6");
    assert_eq!(norm(Point { x: 1, y: -2 }, &3, "p".into()), "p: 9");
    assert_eq!(CALLS.load(Ordering::SeqCst), 7);
    norm_invalidate(Point { x: 1, y: -2 }, &2, "p".into()).unwrap();
    assert_eq!(norm_refresh(Point { x: 1, y: -2 }, &2, "p".into()), "p: 6");
}
