// A method that its `#[cached]` impl block caches, returning a type that
// can't be cached: one short error per generated function, at the return
// type, naming `#[cached(off)]`.
use cachetool::cached;

struct Report;

struct Repo;

#[cached]
impl Repo {
    fn report(&self, id: u32) -> Report {
        let _ = id;
        Report
    }
}

fn main() {
    Repo.report(1);
}
