// `_many` takes the key arguments with each item: an `unless` that uses one
// can't be made once for all items.
use cachetool::cached;

#[cached(unless = |v| v.len() > limit, companions = [many])]
fn list(limit: usize, n: usize) -> Vec<u32> {
    (0..n.min(limit + 5) as u32).collect()
}

fn main() {
    list(1, 2);
}
