// A `&mut` argument of a method cached by its block.
use cachetool::cached;

struct Repo;

#[cached]
impl Repo {
    fn log(&self, id: u32, log: &mut Vec<u32>) -> u32 {
        log.push(id);
        id
    }
}

fn main() {
    Repo.log(1, &mut Vec::new());
}
