use cachetool::cached;

#[cached(ttl = 60, tags = ["a"], ttl = 120)]
fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
