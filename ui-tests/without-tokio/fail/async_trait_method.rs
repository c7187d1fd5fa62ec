//! A method of an `#[async_trait]` impl: the same error, at its `async`.
use async_trait::async_trait;
use cachetool::cached;

#[async_trait]
trait Repo {
    async fn row(&self, id: u64) -> u64;
}

struct Db;

#[async_trait]
impl Repo for Db {
    #[cached]
    async fn row(&self, id: u64) -> u64 {
        id
    }
}

fn main() {}
