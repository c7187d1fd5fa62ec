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

fn main() {
    let _ = private(1);
    let _ = result("1");
    let _ = Repo.user(1);
    let _ = Repo.row(&Db, 1);
    let _ = private_async(1);
    let _ = Repo.page(1);
}
