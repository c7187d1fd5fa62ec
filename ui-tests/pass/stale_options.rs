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

// With `unless` and a `ttl` closure, and arguments whose types `impl Trait`
// or a `macro_rules!` fragment hide.
#[cached(ttl = |n: &u64| Duration::from_secs(*n), stale = 30, unless = |n: &u64| *n == 0, skip(label))]
fn combined(id: u64, label: &(impl AsRef<str> + Clone + Send + 'static)) -> u64 {
    id + label.as_ref().len() as u64
}

#[cached(ttl = |n: &u64| Duration::from_secs(*n), refresh_ahead = 0.5, unless = |n: &u64| *n == 0)]
async fn combined_async(id: u64) -> Result<u64, String> {
    Ok(id)
}

macro_rules! with_type {
    ($name:ident, $t:ty) => {
        #[cached(ttl = 60, stale = 30)]
        fn $name(text: $t) -> usize {
            text.len()
        }
    };
}
with_type!(through_a_macro, &str);

#[tokio::main(flavor = "current_thread")]
async fn main() {
    by_name("a", &["b".to_owned()], Path::new("/c"));
    let _ = fallible(1, "x".to_owned());
    user_async(1, "ada").await;
    pattern((1, 2), 3);
    let _ = by_name_peek("a", &[], Path::new("/"));
    combined(1, &"x".to_owned());
    let _ = combined_async(1).await;
    through_a_macro("abc");
}
