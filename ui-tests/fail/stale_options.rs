use cachetool::cached;

#[cached(ttl = 60, refresh_ahead = 1.5)]
fn too_late(a: u32) -> u32 {
    a
}

#[cached(stale = 30)]
fn without_ttl(a: u32) -> u32 {
    a
}

#[cached(refresh_ahead = 0.8)]
fn ahead_without_ttl(a: u32) -> u32 {
    a
}

struct Repo;

impl Repo {
    #[cached(ttl = 60, stale = 30)]
    fn method(&self, a: u32) -> u32 {
        a
    }
}

#[cached(ttl = 60, stale = 30)]
fn mutable(a: &mut Vec<u32>) -> usize {
    a.len()
}

fn main() {
    too_late(1);
    without_ttl(1);
    ahead_without_ttl(1);
    Repo.method(1);
    mutable(&mut Vec::new());
}
