// Async methods in a `#[cached]` impl block, with async companions; an
// `#[async_trait]` impl block (with `#[async_trait]` above `#[cached]`, so
// that the methods reach `#[cached]` rewritten) caches its methods, without
// companions.
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use cachetool::cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

fn assert_send<T: Send>(value: T) -> T {
    value
}

struct Repo {
    base: u64,
}

#[cached(tags = ["repo"])]
impl Repo {
    async fn user(&self, id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        self.base + id
    }

    #[cached(unless = |name| name.is_empty())]
    async fn name(&self, id: u64) -> Result<String, String> {
        if id == 0 {
            return Err("no id".to_string());
        }
        Ok(format!("user {id}"))
    }

    // Sync and async methods mix.
    fn double(&self, id: u64) -> u64 {
        id * 2
    }
}

#[async_trait]
trait Source {
    async fn read(&self, id: u64) -> u64;
}

struct Disk;

#[async_trait]
#[cached(tags = ["disk"])]
impl Source for Disk {
    async fn read(&self, id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        id + 1
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let repo = Repo { base: 10 };
    assert_eq!(assert_send(repo.user(1)).await, 11);
    assert_eq!(assert_send(repo.user(1)).await, 11);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(assert_send(repo.user_peek(1)).await, Some(11));
    assert_eq!(assert_send(repo.user_many([1, 2])).await, [11, 12]);
    assert_send(repo.user_invalidate(1)).await.unwrap();
    assert_eq!(assert_send(repo.user_refresh(1)).await, 11);
    assert_eq!(assert_send(repo.name(1)).await.unwrap(), "user 1");
    assert_eq!(repo.name_peek(1).await.as_deref(), Some("user 1"));
    assert!(repo.name(0).await.is_err());
    assert_eq!(repo.double(2), 4);
    assert_eq!(repo.double_peek(2), Some(4));

    let source: &dyn Source = &Disk;
    assert_eq!(assert_send(source.read(1)).await, 2);
    assert_eq!(source.read(1).await, 2);
    assert_eq!(CALLS.load(Ordering::SeqCst), 4);
}
