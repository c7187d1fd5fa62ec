use cachetool::cached;

#[cached(name = "users:load")]
fn load(id: u32) -> u32 {
    id
}

fn main() {
    load(1);
}
