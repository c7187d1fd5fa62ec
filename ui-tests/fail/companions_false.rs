// With `companions = false` there are none.
use cachetool::cached;

#[cached(companions = false)]
fn f(id: u32) -> u32 {
    id
}

fn main() {
    f(1);
    f_invalidate(1).unwrap();
}
