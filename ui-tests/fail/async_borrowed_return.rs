use cachetool::cached;

struct Names(Vec<String>);

impl Names {
    #[cached]
    async fn first(&self, index: usize) -> &str {
        &self.0[index]
    }
}

fn main() {}
