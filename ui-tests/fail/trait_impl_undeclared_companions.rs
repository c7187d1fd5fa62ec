// The companions of a trait impl's method must be declared by the trait.
use cachetool::cached;

trait Store {
    fn load(&self, id: u32) -> u32;
}

struct Disk;

impl Store for Disk {
    #[cached]
    fn load(&self, id: u32) -> u32 {
        id
    }
}

fn main() {
    Disk.load(1);
}
