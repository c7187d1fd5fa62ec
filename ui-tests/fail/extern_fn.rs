use cachetool::cached;

#[cached]
extern "C" fn square(n: u32) -> u32 {
    n * n
}

fn main() {
    square(2);
}
