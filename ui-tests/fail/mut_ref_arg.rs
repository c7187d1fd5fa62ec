use cachetool::cached;

#[cached]
fn f(id: u32, log: &mut Vec<String>) -> u32 {
    log.push(id.to_string());
    id
}

fn main() {
    f(1, &mut Vec::new());
}
