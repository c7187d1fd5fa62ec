use cachetool::cached;

#[cached(ttl = "10")]
fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
