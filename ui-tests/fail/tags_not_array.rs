use cachetool::cached;

#[cached(tags = "users")]
fn load(id: u32) -> u32 {
    id
}

fn main() {
    load(1);
}
