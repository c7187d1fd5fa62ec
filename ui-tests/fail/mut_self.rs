use cachetool::cached;

struct Counter {
    count: u32,
}

impl Counter {
    #[cached]
    fn bump(&mut self, by: u32) -> u32 {
        self.count += by;
        self.count
    }
}

fn main() {
    Counter { count: 0 }.bump(1);
}
