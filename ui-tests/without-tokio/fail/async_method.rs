//! An async method: the same error, at its `async`.
use cachetool::cached;

struct Repo;

impl Repo {
    #[cached]
    pub async fn row(&self, id: u64) -> Result<u64, String> {
        Ok(id)
    }
}

fn main() {}
