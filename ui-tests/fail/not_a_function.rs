use cachetool::cached;

#[cached]
struct Users;

fn main() {}
