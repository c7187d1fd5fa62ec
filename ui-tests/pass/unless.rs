// `unless = ...`: a closure (its argument's type inferred from the return
// type) or a function; for a `Result`, it sees the `Ok` value.
use std::sync::atomic::{AtomicUsize, Ordering};

use cachetool::cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

fn calls() -> usize {
    CALLS.load(Ordering::SeqCst)
}

#[cached(unless = |list| list.is_empty())]
fn list(n: usize) -> Vec<u32> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    (0..n as u32).collect()
}

#[cached(unless = |value| *value == 0)]
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    text.parse()
}

#[cached(unless = |value| *value == 0)]
fn read(text: &str) -> std::io::Result<u64> {
    Ok(text.len() as u64)
}

fn is_none(value: &Option<u64>) -> bool {
    value.is_none()
}

#[cached(unless = is_none)]
fn half(n: u64) -> Option<u64> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    (n % 2 == 0).then_some(n / 2)
}

struct Repo;

impl Repo {
    #[cached(unless = |name: &String| name.is_empty(), tags = ["repo"], companions = true)]
    fn name(&self, id: u64) -> String {
        if id == 0 { String::new() } else { id.to_string() }
    }
}

#[cached(unless = |value| value.is_empty())]
async fn fetch(id: u64) -> String {
    if id == 0 { String::new() } else { format!("page {id}") }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert!(list(0).is_empty());
    assert!(list(0).is_empty());
    assert_eq!(calls(), 2);
    assert_eq!(list(2), [0, 1]);
    assert_eq!(list(2), [0, 1]);
    assert_eq!(calls(), 3);

    assert_eq!(parse("0"), Ok(0));
    assert_eq!(parse("0"), Ok(0));
    assert_eq!(calls(), 5);
    assert!(parse("x").is_err());
    assert_eq!(calls(), 6);

    assert_eq!(read("").unwrap(), 0);
    assert_eq!(read_peek(""), None);

    assert_eq!(half(1), None);
    assert_eq!(half(1), None);
    assert_eq!(calls(), 8);

    assert_eq!(Repo.name(0), "");
    assert_eq!(Repo.name_peek(0), None);
    assert_eq!(Repo.name(1), "1");
    assert_eq!(Repo.name_peek(1).as_deref(), Some("1"));

    assert_eq!(fetch(0).await, "");
    assert_eq!(fetch_peek(0).await, None);
    assert_eq!(fetch(1).await, "page 1");
    assert_eq!(fetch_peek(1).await.as_deref(), Some("page 1"));
}
