// A function without key arguments gets no `_many` (the others it does).
use cachetool::cached;

#[cached]
fn config() -> u64 {
    2
}

fn main() {
    config_invalidate().unwrap();
    config_many([()]);
}
