//! `async fn`, async methods, `?` and early `return` in async bodies, async
//! companions; every generated future is `Send` when the body's is, so it can
//! be spawned (as in an axum handler).
use cachetool::cached;

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[cached(tags = ["users", format!("user:{id}")], ttl = 60)]
async fn user(id: u64) -> String {
    if id == 0 {
        return "nobody".to_string();
    }
    format!("user {id}")
}

#[cached]
async fn parse(text: String) -> Result<u32, std::num::ParseIntError> {
    let number: u32 = text.trim().parse()?;
    Ok(number * 2)
}

struct Repo {
    base: u64,
}

impl Repo {
    #[cached]
    async fn row(&self, (a, b): (u64, u64)) -> u64 {
        self.base + a + b
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(assert_send(user(7)).await, "user 7");
    assert_eq!(assert_send(user(0)).await, "nobody");
    assert_send(user_invalidate(7)).await.unwrap();
    assert_eq!(assert_send(user_refresh(7)).await, "user 7");
    assert_eq!(assert_send(parse(" 21 ".to_string())).await, Ok(42));
    assert!(parse("x".to_string()).await.is_err());
    let repo = Repo { base: 100 };
    assert_eq!(assert_send(repo.row((1, 2))).await, 103);
    assert_send(repo.row_invalidate((1, 2))).await.unwrap();
    assert_eq!(assert_send(repo.row_refresh((1, 2))).await, 103);
    assert_send(cachetool::global().clean_async(&["users"]))
        .await
        .unwrap();
}
