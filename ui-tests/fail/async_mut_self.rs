use cachetool::cached;

struct Counter(u64);

impl Counter {
    #[cached]
    async fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

fn main() {}
