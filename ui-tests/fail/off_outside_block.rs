// `#[cached(off)]` outside a `#[cached]` impl block.
use cachetool::cached;

#[cached(off)]
fn f(id: u32) -> u32 {
    id
}

fn main() {
    f(1);
}
