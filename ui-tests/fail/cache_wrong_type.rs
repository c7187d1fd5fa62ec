use cachetool::cached;

#[cached(cache = "redis://localhost")]
fn load(id: u32) -> u32 {
    id
}

fn main() {
    load(1);
}
