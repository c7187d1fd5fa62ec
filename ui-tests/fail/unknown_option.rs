use cachetool::cached;

#[cached(ttl = 60, tll = 60)]
fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
