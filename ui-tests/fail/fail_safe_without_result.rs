use cachetool::cached;

#[cached(ttl = 60, fail_safe = 3600)]
fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
