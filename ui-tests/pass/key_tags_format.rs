// `key` and `tags` as expressions over the arguments.
use std::sync::atomic::{AtomicUsize, Ordering};

use cachetool::cached;
use serde::{Deserialize, Serialize};

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

#[cached(tags = ["users", format!("user:{id}")], key = format!("user:{id}"))]
fn user(id: u64) -> User {
    CALLS.fetch_add(1, Ordering::SeqCst);
    User {
        id,
        name: format!("user {id}"),
    }
}

// A key that ignores an argument, and tags of several string types.
#[cached(key = id, tags = [String::from("users"), &*group, std::borrow::Cow::Borrowed("x")])]
fn user_in(id: u64, group: String, note: &str) -> User {
    CALLS.fetch_add(1, Ordering::SeqCst);
    User {
        id,
        name: format!("{group}{note}"),
    }
}

// A tag that is an argument: borrowed, so the body can still use it.
#[cached(tags = [group])]
fn in_group(id: u64, group: String) -> String {
    format!("{group}:{id}")
}

fn main() {
    assert_eq!(user(7).name, "user 7");
    assert_eq!(user(7).id, 7);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);

    cachetool::global().clean(&["user:8"]).unwrap();
    assert_eq!(user(7).id, 7);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    cachetool::global().clean(&["user:7"]).unwrap();
    assert_eq!(user(7).id, 7);
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);

    user_invalidate(7).unwrap();
    assert_eq!(user_refresh(7).id, 7);
    assert_eq!(CALLS.load(Ordering::SeqCst), 3);

    assert_eq!(user_in(1, "a".into(), "x").name, "ax");
    // Same key: the note is not part of it.
    assert_eq!(user_in(1, "a".into(), "y").name, "ax");
    assert_eq!(CALLS.load(Ordering::SeqCst), 4);
    user_in_invalidate(1, "a".into(), "y").unwrap();
    assert_eq!(user_in_refresh(1, "a".into(), "z").name, "az");

    assert_eq!(in_group(1, "admins".to_owned()), "admins:1");
    cachetool::global().clean(&["admins"]).unwrap();
    in_group_invalidate(1, "admins".to_owned()).unwrap();
    assert_eq!(in_group_refresh(1, "admins".to_owned()), "admins:1");
}
