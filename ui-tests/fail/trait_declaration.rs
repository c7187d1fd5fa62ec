use cachetool::cached;

trait Store {
    #[cached]
    fn load(&self, id: u32) -> u32;
}

fn main() {}
