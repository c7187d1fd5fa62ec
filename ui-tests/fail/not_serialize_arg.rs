use cachetool::cached;

struct Db;

#[cached]
fn f(id: u32, db: &Db) -> u32 {
    let _ = db;
    id
}

fn main() {
    f(1, &Db);
}
