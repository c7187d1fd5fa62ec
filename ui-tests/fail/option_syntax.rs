use cachetool::cached;

#[cached(key = format!("{id}") tags = ["a"])]
fn load(id: u32) -> u32 {
    id
}

fn main() {
    load(1);
}
