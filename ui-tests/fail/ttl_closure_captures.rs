use cachetool::cached;

// The closure sees the value only: the arguments are gone when it is stored.
#[cached(ttl = |value: &u64| std::time::Duration::from_secs(*value + base))]
fn f(base: u64) -> u64 {
    base
}

fn main() {
    f(1);
}
