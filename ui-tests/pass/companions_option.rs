// `companions = false` generates none; `companions = [..]` those listed.
use cachetool::cached;

#[cached(companions = false)]
fn alone(n: u64) -> u64 {
    n
}

// A function of this name would clash with a generated `alone_invalidate`.
fn alone_invalidate() -> &'static str {
    "mine"
}

#[cached(companions = [invalidate, peek])]
fn some(n: u64) -> u64 {
    n
}

fn some_refresh() {}
fn some_many() {}

#[cached(companions = true)]
fn all(n: u64) -> u64 {
    n
}

fn main() {
    assert_eq!(alone(1), 1);
    assert_eq!(alone_invalidate(), "mine");
    assert_eq!(some(1), 1);
    some_invalidate(1).unwrap();
    assert_eq!(some_peek(1), None);
    some_refresh();
    some_many();
    assert_eq!(all_many([1]), [1]);
}
