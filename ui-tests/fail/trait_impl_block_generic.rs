// The companions of a `#[cached]` trait impl's methods go into an inherent
// impl of the type, which can't have a parameter that only the trait uses.
use cachetool::cached;

trait Load<T> {
    fn load(&self, id: u64) -> u64;
}

struct Repo;

#[cached]
impl<T, const N: usize> Load<[T; N]> for Repo {
    fn load(&self, id: u64) -> u64 {
        id + N as u64
    }
}

fn main() {
    let _ = <Repo as Load<[u8; 1]>>::load(&Repo, 1);
}
