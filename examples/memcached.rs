//! Two functions sharing a tag in Memcached: hits, `_invalidate`, `clean`,
//! and what the server says about itself.
//!
//! Start a server first (`apt-get install -y memcached`, then
//! `memcached -l 127.0.0.1 -p 11211 -u nobody &`), and run
//! `cargo run --example memcached --features memcached` (or, for several servers,
//! `MEMCACHED_URL=memcache://127.0.0.1:11211,127.0.0.1:11212 cargo run --example memcached --features memcached`).

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
    let url =
        std::env::var("MEMCACHED_URL").unwrap_or_else(|_| "memcache://127.0.0.1:11211".into());
    // A prefix per run, so that the counts below do not depend on earlier runs.
    let prefix = format!("example-{}", std::process::id());
    let cache = Cache::builder()
        .memcached(&url)?
        .prefix(prefix)
        .ttl(Duration::from_secs(60))
        .connect_timeout(Duration::from_millis(500))
        .io_timeout(Duration::from_millis(500))
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

    cache.clean_all()?;
    profile(7);
    println!("clean_all() drops this prefix:    loads = {:?}", loads());

    let stats = cache.stats();
    println!(
        "this cache: {} hits, {} misses, {} errors",
        stats.hits, stats.misses, stats.errors
    );
    if stats.errors > 0 {
        println!("(errors: is memcached running at {url}? every call still returned its value)");
        return Ok(());
    }
    let server = cache.server_stats()?;
    println!(
        "the servers: {} answered, hit rate {:.0}%, {} items, {} bytes",
        server.servers,
        server.hit_rate() * 100.0,
        server.items,
        server.memory_bytes
    );
    Ok(())
}
