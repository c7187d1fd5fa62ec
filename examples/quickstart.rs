//! The README's quickstart: a tagged cached function, invalidation, clean.
//! In memory, no server needed: `cargo run --example quickstart`.

use std::sync::atomic::{AtomicUsize, Ordering};

use cachetool::cached;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

static DATABASE_READS: AtomicUsize = AtomicUsize::new(0);

/// Pretends to read a user from a slow database.
#[cached(tags = ["users", format!("user:{id}")], ttl = 600)]
fn load_user(id: u64) -> User {
    DATABASE_READS.fetch_add(1, Ordering::SeqCst);
    User {
        id,
        name: format!("user {id}"),
    }
}

fn main() -> cachetool::Result<()> {
    let reads = || DATABASE_READS.load(Ordering::SeqCst);

    load_user(7);
    load_user(7);
    println!("two calls, {} database read", reads());

    load_user_invalidate(7)?;
    load_user(7);
    println!("after load_user_invalidate(7): {} reads", reads());

    load_user(8);
    cachetool::global().clean(&["user:7"])?; // every entry tagged user:7, in every function
    load_user(7);
    load_user(8);
    println!(
        "after clean(user:7): {} reads (user 8 stayed cached)",
        reads()
    );

    let stats = cachetool::global().stats();
    println!(
        "hits {}, misses {}, hit rate {:.0}%",
        stats.hits,
        stats.misses,
        stats.hit_rate() * 100.0
    );
    Ok(())
}
