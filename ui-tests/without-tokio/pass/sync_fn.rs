//! With the default features, a sync function is memoized in memory.
use cachetool::cached;

#[cached(tags = [format!("user:{id}")], ttl = 60)]
fn user(id: u64) -> String {
    format!("user {id}")
}

fn main() {
    assert_eq!(user(7), "user 7");
    assert_eq!(user(7), "user 7");
    user_invalidate(7).unwrap();
    assert_eq!(user_refresh(7), "user 7");
    cachetool::global().clean(&["user:7"]).unwrap();
    assert!(cachetool::global().stats().hits >= 1);
}
