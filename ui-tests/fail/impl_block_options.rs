// Options that mean nothing where they are: `name` and `off` on a block, a
// block's `skip` naming no argument of its methods, `off` with other options,
// `#[cached]` twice on a method.
use cachetool::cached;

struct Repo;

#[cached(name = "repo", off, skip(db))]
impl Repo {
    fn get(&self, id: u32) -> u32 {
        id
    }

    #[cached(off, ttl = 5)]
    fn uncached(&self, id: u32) -> u32 {
        id
    }

    #[cached(ttl = 1)]
    #[cached(ttl = 2)]
    fn twice(&self, id: u32) -> u32 {
        id
    }
}

fn main() {
    Repo.get(1);
    Repo.get_invalidate(1).unwrap();
    Repo.uncached(1);
    Repo.twice(1);
}
