use cachetool::cached;

#[cached(skip(db.conn))]
fn f(db: &str, id: u32) -> u32 {
    let _ = db;
    id
}

fn main() {
    f("", 1);
}
