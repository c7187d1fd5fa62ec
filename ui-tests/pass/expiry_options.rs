use std::time::Duration;

use cachetool::cached;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
struct Token {
    lifetime: Duration,
}

impl Token {
    fn expires_in(&self) -> Duration {
        self.lifetime
    }
}

#[cached(ttl = |token: &Token| token.expires_in(), jitter = 0.1)]
fn token(id: u64) -> Token {
    Token { lifetime: Duration::from_secs(id) }
}

#[cached(ttl = |token| token.expires_in(), fail_safe = 3600)]
fn fallible(id: u64) -> Result<Token, String> {
    Ok(Token { lifetime: Duration::from_secs(id) })
}

#[cached(ttl = |token| token.expires_in())]
async fn token_async(id: u64) -> Token {
    Token { lifetime: Duration::from_secs(id) }
}

struct Repo;

#[cached(ttl = 60, fail_safe = Duration::from_secs(90))]
async fn fallible_async(id: u64) -> Result<u64, String> {
    Ok(id)
}

#[cached(ttl = |n: &u64| Duration::from_secs(*n), jitter = 0.5)]
impl Repo {
    fn get(&self, n: u64) -> u64 {
        n
    }
}

fn main() {
    token(1);
    let _ = fallible(1);
    let _ = token_many([1, 2]);
    Repo.get(3);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(token_async(1));
    let _ = runtime.block_on(fallible_async(1));
    let _ = fallible_many([1, 2]);
}
