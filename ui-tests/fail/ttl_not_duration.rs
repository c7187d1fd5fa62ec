use cachetool::cached;

const TTL_SECS: u64 = 600;

#[cached(ttl = TTL_SECS)]
fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
