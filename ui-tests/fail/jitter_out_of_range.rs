use cachetool::cached;

#[cached(ttl = 60, jitter = -1)]
fn negative(a: u32) -> u32 {
    a
}

#[cached(ttl = 60, jitter = 1.5)]
fn too_big(a: u32) -> u32 {
    a
}

fn main() {
    negative(1);
    too_big(1);
}
