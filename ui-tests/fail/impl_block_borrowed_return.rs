// A `&self` method that the block caches by default and that can't be
// cached: the error is at the method and names `#[cached(off)]`. The other
// methods are cached, and callers of its companions get no error of their own.
use cachetool::cached;

struct Repo {
    name: String,
}

#[cached]
impl Repo {
    fn name(&self) -> &str {
        &self.name
    }

    fn len(&self, extra: usize) -> usize {
        self.name.len() + extra
    }
}

fn main() {
    let repo = Repo { name: "a".to_string() };
    repo.name();
    repo.name_invalidate().unwrap();
    repo.len_peek(1);
}
