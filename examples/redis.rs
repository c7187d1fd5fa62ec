//! Two functions sharing a tag in Redis: hits, `_invalidate`, and `clean`.
//!
//! Start a server first (`apt-get install -y redis-server`, then
//! `redis-server --port 6379 --save '' &`), and run
//! `cargo run --example redis --features redis` (or `REDIS_URL=redis://127.0.0.1:6380/ cargo run --example redis --features redis`).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cachetool::{cached, Cache};

static PROFILE_LOADS: AtomicUsize = AtomicUsize::new(0);
static ORDERS_LOADS: AtomicUsize = AtomicUsize::new(0);

/// A user's profile; tagged with the user, so `clean` of that tag drops it.
#[cached(tags = [format!("user:{id}")], ttl = 600)]
fn profile(id: u64) -> String {
    PROFILE_LOADS.fetch_add(1, SeqCst);
    format!("profile of user {id}")
}

/// A user's orders; shares the user's tag with `profile`.
#[cached(tags = [format!("user:{id}"), "orders"])]
fn orders(id: u64) -> Vec<u32> {
    ORDERS_LOADS.fetch_add(1, SeqCst);
    vec![1, 2, 3]
}

fn loads() -> (usize, usize) {
    (PROFILE_LOADS.load(SeqCst), ORDERS_LOADS.load(SeqCst))
}

fn main() -> cachetool::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    // A prefix per run, so that the counts below do not depend on earlier runs.
    let prefix = format!("example-{}", std::process::id());
    let cache = Cache::builder()
        .redis(&url)?
        .prefix(prefix)
        .ttl(Duration::from_secs(60))
        .build()?;
    cachetool::set_global(cache.clone())?;

    profile(7);
    orders(7);
    println!("first calls run the bodies:       loads = {:?}", loads());
    profile(7);
    orders(7);
    println!("second calls are hits:            loads = {:?}", loads());

    profile_invalidate(7)?;
    profile(7);
    orders(7);
    println!("profile_invalidate(7) drops one:  loads = {:?}", loads());

    cache.clean(&["user:7"])?;
    profile(7);
    orders(7);
    println!("clean([\"user:7\"]) drops both:    loads = {:?}", loads());

    let stats = cache.stats();
    println!(
        "stats: {} hits, {} misses, {} backend errors",
        stats.hits, stats.misses, stats.errors
    );
    if stats.errors > 0 {
        eprintln!("(is a redis-server listening at {url}? without one every call runs its body)");
    }
    let server = cache.server_stats()?;
    println!(
        "server: {} keys, {} bytes used, hit rate {:.2}",
        server.items,
        server.memory_bytes,
        server.hit_rate()
    );
    Ok(())
}
