use cachetool::cached;

#[cached(ttl = |value| *value)]
fn f(a: u64) -> u64 {
    a
}

fn main() {
    f(1);
}
