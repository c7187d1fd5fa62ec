//! `#[cached]` inside an `#[async_trait]` impl: the future stays `Send` and
//! the method works through `dyn Trait`.
use async_trait::async_trait;
use cachetool::cached;

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[async_trait]
trait Repo: Send + Sync {
    async fn row(&self, id: u64) -> Result<String, String>;
    async fn count(&self) -> u64;
}

struct Db;

#[async_trait]
impl Repo for Db {
    #[cached(tags = ["rows", format!("row:{id}")], ttl = 60)]
    async fn row(&self, id: u64) -> Result<String, String> {
        if id == 0 {
            return Err("no row".into());
        }
        Ok(format!("row {id}"))
    }

    #[cached]
    async fn count(&self) -> u64 {
        42
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let repo: Box<dyn Repo> = Box::new(Db);
    assert_eq!(assert_send(repo.row(7)).await, Ok("row 7".to_string()));
    assert!(repo.row(0).await.is_err());
    assert_eq!(assert_send(repo.count()).await, 42);
    cachetool::global().clean_async(&["row:7"]).await.unwrap();
}
