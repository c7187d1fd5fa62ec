// `unless` must be a closure given a reference to the value, returning `bool`.
use cachetool::cached;

#[cached(unless = |value| value.len())]
fn list(n: usize) -> Vec<u32> {
    vec![0; n]
}

#[cached(unless = "empty")]
fn text(n: usize) -> String {
    n.to_string()
}

fn main() {
    list(1);
    text(1);
}
