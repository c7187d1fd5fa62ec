use cachetool::cached;

#[cached(version = "2")]
fn load(id: u32) -> u32 {
    id
}

fn main() {
    load(1);
}
