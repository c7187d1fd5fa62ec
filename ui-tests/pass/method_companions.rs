// A method with a receiver under its own `#[cached]` gets `_invalidate` and
// `_refresh`, as before `_peek` and `_many` existed (it may be in a trait impl
// whose trait declares just those); `_peek` and `_many` when asked for.
// Methods without a receiver, and free functions, get all four.
use cachetool::cached;

struct Repo;

impl Repo {
    #[cached]
    fn get(&self, id: u64) -> u64 {
        id
    }

    // Names the default companions leave free.
    fn get_peek(&self) -> &'static str {
        "mine"
    }

    fn get_many(&self) -> &'static str {
        "mine too"
    }

    #[cached(companions = [peek, many])]
    fn listed(&self, id: u64) -> u64 {
        id
    }

    #[cached]
    fn associated(id: u64) -> u64 {
        id
    }
}

fn main() {
    assert_eq!(Repo.get(1), 1);
    Repo.get_invalidate(1).unwrap();
    assert_eq!(Repo.get_refresh(1), 1);
    assert_eq!(Repo.get_peek(), "mine");
    assert_eq!(Repo.get_many(), "mine too");
    assert_eq!(Repo.listed_many([1, 2]), [1, 2]);
    assert_eq!(Repo.listed_peek(1), Some(1));
    assert_eq!(Repo::associated_many([3]), [3]);
    assert_eq!(Repo::associated_peek(3), Some(3));
}
