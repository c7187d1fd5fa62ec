use cachetool::cached;

#[cached]
unsafe extern "C" fn sum(n: u32, _: ...) -> u32 {
    n
}

fn main() {}
