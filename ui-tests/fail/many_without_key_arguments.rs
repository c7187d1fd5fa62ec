// `_many` needs key arguments: asked for by name, it is an error.
use cachetool::cached;

#[cached(companions = [many])]
fn now() -> u64 {
    1
}

fn main() {
    now();
}
