use cachetool::cached;

#[cached(ttl = 1.5)]
fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
