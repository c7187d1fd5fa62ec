// `_many` of functions whose key arguments elide lifetimes, seen (`&str`,
// `Wrapper<'_>`) or not (`Cow<str>`, `Row`): each gets a lifetime parameter
// of its own, and `f_many(["a", "b"])` still reads as it did.
#![allow(elided_lifetimes_in_paths)]

use std::borrow::Cow;

use cachetool::cached;
use serde::Serialize;

#[derive(Serialize)]
struct Wrapper<'a>(&'a str);

#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
}

struct Db;

#[cached]
fn cow(name: Cow<str>) -> u64 {
    name.len() as u64
}

#[cached]
fn text(name: &str) -> u64 {
    name.len() as u64
}

#[cached]
fn wrapped(x: Wrapper<'_>) -> u64 {
    x.0.len() as u64
}

#[cached]
fn hidden(row: Row) -> String {
    row.id.to_owned()
}

#[cached(skip(db))]
fn several(db: &Db, a: &str, b: Cow<str>, c: Wrapper<'_>, d: u64, e: Option<&str>) -> String {
    let _ = db;
    format!("{a}{b}{}{d}{}", c.0, e.unwrap_or("-"))
}

#[cached]
fn nested(pairs: Vec<(&str, Cow<str>)>) -> usize {
    pairs.len()
}

#[cached(skip(db))]
async fn async_text(db: &Db, name: &str, suffix: Cow<'_, str>) -> String {
    let _ = db;
    format!("{name}{suffix}")
}

#[cached]
async fn async_wrapped(x: Wrapper<'_>, n: u64) -> u64 {
    x.0.len() as u64 + n
}

struct Repo;

impl Repo {
    #[cached(companions = true)]
    fn cow(&self, name: Cow<str>) -> u64 {
        name.len() as u64
    }

    #[cached(companions = true)]
    async fn text(&self, name: &str, other: Cow<'_, str>) -> String {
        format!("{name}{other}")
    }
}

fn caller<'x, 'y>(a: &'x str, b: &'y str) -> Vec<String> {
    // Two lifetimes of the caller's in one item: each elided lifetime is its own.
    several_many(&Db, [(a, Cow::Borrowed(b), Wrapper(a), 1, Some(b))])
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(cow_many(["a", "bb"].map(Cow::Borrowed)), [1, 2]);
    assert_eq!(cow_many(vec![Cow::Owned("ccc".to_owned())]), [3]);
    assert_eq!(cow_peek(Cow::Borrowed("a")), Some(1));
    assert_eq!(text_many(["a", "b"]), [1, 1]);
    let owned = String::from("local");
    assert_eq!(text_many(vec![owned.as_str()]), [5]);
    assert_eq!(text_peek(&owned), Some(5));
    assert_eq!(wrapped_many([Wrapper("xy")]), [2]);
    assert_eq!(wrapped_peek(Wrapper("xy")), Some(2));
    assert_eq!(hidden_many([Row { id: &owned }]), ["local"]);
    assert_eq!(hidden_peek(Row { id: &owned }).as_deref(), Some("local"));
    hidden_invalidate(Row { id: "local" }).unwrap();
    assert_eq!(hidden_refresh(Row { id: "local" }), "local");
    assert_eq!(
        several_many(&Db, [("a", Cow::Borrowed("b"), Wrapper("c"), 1, None)]),
        ["abc1-"]
    );
    assert_eq!(caller("p", "q"), ["pqp1q"]);
    assert_eq!(nested_many([vec![("a", Cow::Borrowed("b"))]]), [1]);
    assert_eq!(Repo.cow_many([Cow::Borrowed("abc")]), [3]);

    assert_eq!(
        async_text_many(&Db, [("a", Cow::Borrowed("b"))]).await,
        ["ab"]
    );
    assert_eq!(
        async_text_peek(&Db, "a", Cow::Borrowed("b")).await.as_deref(),
        Some("ab")
    );
    async_text_invalidate(&Db, &owned, Cow::Borrowed("b")).await.unwrap();
    assert_eq!(async_wrapped_many([(Wrapper("ab"), 1)]).await, [3]);
    assert_eq!(Repo.text_many([("a", Cow::Borrowed("b"))]).await, ["ab"]);
    assert_eq!(Repo.text_peek("a", Cow::Borrowed("b")).await.as_deref(), Some("ab"));
}
