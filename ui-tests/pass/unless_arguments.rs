// `unless` closures that use the function's arguments (and `self`), sync and
// async: the closure borrows them while the body runs. `_many` takes the key
// arguments with each item, so it exists only where `unless` uses none of
// them (a skipped argument, taken once, it may use).
use cachetool::cached;

#[cached(unless = |v| v.len() > limit)]
fn sync_list(limit: usize, n: usize) -> Vec<u32> {
    (0..n as u32).collect()
}

#[cached(unless = |v| v.len() > limit)]
async fn async_list(limit: usize, n: usize) -> Vec<u32> {
    (0..n as u32).collect()
}

#[cached(unless = |v| v.starts_with(prefix.as_str()))]
async fn async_owned(prefix: String, n: u64) -> String {
    format!("{prefix}{n}")
}

#[cached(unless = |v| v.starts_with(prefix.as_str()))]
fn sync_owned(prefix: String, n: u64) -> String {
    format!("{n}{prefix}")
}

#[cached(skip(db), unless = |v| *v == db.ten)]
async fn async_skipped(db: &Db, id: u64) -> Result<u64, String> {
    Ok(id * db.ten)
}

struct Db {
    ten: u64,
}

struct Repo {
    limit: usize,
}

impl Repo {
    #[cached(unless = |v| v.len() > self.limit || v.len() > extra)]
    async fn list(&self, extra: usize, n: usize) -> Vec<u32> {
        (0..n as u32).collect()
    }

    #[cached(unless = |v| v.len() > self.limit + extra)]
    fn sync_list(&self, extra: usize, n: usize) -> Vec<u32> {
        (0..n as u32).collect()
    }
}

// Names that only `_many` would have taken: `unless` uses key arguments.
fn sync_list_many() {}
fn async_list_many() {}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(sync_list(1, 2), [0, 1]);
    assert_eq!(sync_list_peek(1, 2), None, "longer than the limit: not stored");
    assert_eq!(sync_list(2, 2), [0, 1]);
    assert_eq!(sync_list_peek(2, 2).as_deref(), Some(&[0, 1][..]));
    assert_eq!(sync_owned("a".to_owned(), 1), "1a");
    sync_list_many();
    async_list_many();
    assert_eq!(Repo { limit: 1 }.sync_list(0, 1), [0]);

    assert_eq!(assert_send(async_list(1, 2)).await, [0, 1]);
    assert_eq!(async_list_peek(1, 2).await, None);
    assert_eq!(async_list(2, 2).await, [0, 1]);
    assert_eq!(async_list_peek(2, 2).await.as_deref(), Some(&[0, 1][..]));
    assert_eq!(async_list_refresh(1, 3).await, [0, 1, 2]);
    assert_eq!(async_list_peek(1, 3).await, None);
    assert_eq!(assert_send(async_owned("p".to_owned(), 1)).await, "p1");
    assert_eq!(async_owned_peek("p".to_owned(), 1).await, None);
    let db = Db { ten: 10 };
    assert_eq!(async_skipped(&db, 1).await, Ok(10));
    assert_eq!(async_skipped_many(&db, [1, 2]).await, [Ok(10), Ok(20)]);
    assert_eq!(async_skipped_peek(&db, 1).await, None, "10 is not stored");
    assert_eq!(async_skipped_peek(&db, 2).await, Some(20));
    let repo = Repo { limit: 1 };
    assert_eq!(assert_send(repo.list(5, 2)).await, [0, 1]);
    assert_eq!(repo.list(5, 1).await, [0]);
}
