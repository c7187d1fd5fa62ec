use cachetool::cached;

#[cached(lock = 0)]
fn load(id: u32) -> u32 {
    id
}

fn main() {
    load(1);
}
