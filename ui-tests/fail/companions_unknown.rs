// `companions` lists known companions, each once.
use cachetool::cached;

#[cached(companions = [invalidate, purge, invalidate])]
fn f(id: u32) -> u32 {
    id
}

#[cached(companions = "all")]
fn g(id: u32) -> u32 {
    id
}

fn main() {
    f(1);
    g(1);
}
