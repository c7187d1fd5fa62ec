use cachetool::cached;

#[cached]
fn f(id: u32, label: &impl std::fmt::Display) -> String {
    format!("{label}{id}")
}

fn main() {
    f(1, &"a");
}
