use cachetool::cached;

#[cached(skip(db))]
fn f(conn: &str, id: u32) -> u32 {
    let _ = conn;
    id
}

fn main() {
    f("", 1);
}
