use std::path::Path;
use std::time::Duration;

use cachetool::cached;

#[cached(ttl = 60, stale = 30)]
fn by_name(name: &str, tags: &[String], path: &Path) -> String {
    format!("{name}{}{}", tags.len(), path.display())
}

#[cached(ttl = 60, refresh_ahead = 0.8, stale = Duration::from_secs(5), fail_safe = 3600)]
fn fallible(id: u64, mut label: String) -> Result<String, String> {
    label.push('!');
    Ok(format!("{id}{label}"))
}

#[cached(ttl = 60, stale = 30, tags = [format!("user:{id}")], jitter = 0.1)]
async fn user_async(id: u64, name: &str) -> String {
    format!("{id}{name}")
}

#[cached(ttl = 60, refresh_ahead = 0.5)]
fn pattern((a, b): (u32, u32), _: u8) -> u32 {
    a + b
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    by_name("a", &["b".to_owned()], Path::new("/c"));
    let _ = fallible(1, "x".to_owned());
    user_async(1, "ada").await;
    pattern((1, 2), 3);
    let _ = by_name_peek("a", &[], Path::new("/"));
}
