// Every error at once; the callers of the function and of its companions
// get none of their own.
use cachetool::cached;

#[cached(ttl = "1", lock = yes, skip(conn))]
fn load(id: u32, log: &mut Vec<u32>) -> &str {
    log.push(id);
    "x"
}

fn main() {
    let mut log = Vec::new();
    load(1, &mut log);
    load_invalidate(1, &mut log).unwrap();
}
