// Companions that are never called raise no warning, in a crate that denies
// every warning: free functions, methods, async functions, an impl block.
#![deny(warnings)]

use cachetool::cached;

#[cached]
fn private(n: u64) -> u64 {
    n
}

#[cached(tags = [format!("user:{id}")], unless = |name| name.is_empty())]
async fn private_async(id: u64) -> String {
    id.to_string()
}

#[cached]
fn result(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

struct Db;

struct Repo;

#[cached(skip(db))]
impl Repo {
    fn user(&self, id: u64) -> u64 {
        id
    }

    fn row(&self, db: &Db, mut id: u64) -> u64 {
        let _ = db;
        id += 1;
        id
    }

    async fn page(&self, id: u64) -> u64 {
        id
    }
}

// A function recomputed in the background: its copies of the arguments
// (patterns, `mut`, borrowed, a wildcard) warn of nothing either.
#[cached(ttl = 60, stale = 30, refresh_ahead = 0.5)]
fn stale((a, b): (u32, u32), mut label: String, name: &str, _: u8) -> String {
    label.push_str(name);
    format!("{a}{b}{label}")
}

#[cached(ttl = 60, stale = 30)]
async fn stale_async((a, b): (u32, u32), mut label: String, name: &str) -> String {
    label.push_str(name);
    format!("{a}{b}{label}")
}

fn main() {
    let _ = stale((1, 2), String::new(), "x", 0);
    let _ = stale_async((1, 2), String::new(), "x");
    let _ = private(1);
    let _ = result("1");
    let _ = Repo.user(1);
    let _ = Repo.row(&Db, 1);
    let _ = private_async(1);
    let _ = Repo.page(1);
}
