// An argument that is not `Serialize`, of a method cached by its block: the
// error says to skip it or mark the method `#[cached(off)]`.
use cachetool::cached;

struct Db;

struct Repo;

#[cached]
impl Repo {
    fn get(&self, id: u32, db: &Db) -> u32 {
        let _ = db;
        id
    }
}

fn main() {
    Repo.get(1, &Db);
}
