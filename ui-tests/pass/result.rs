// Functions returning `Result`: `?` works in the body, only `Ok` is cached.
use std::sync::atomic::{AtomicUsize, Ordering};

use cachetool::cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, PartialEq)]
struct ParseError;

impl From<std::num::ParseIntError> for ParseError {
    fn from(_: std::num::ParseIntError) -> Self {
        ParseError
    }
}

#[cached]
fn parse(text: &str) -> Result<u32, ParseError> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    let value: u32 = text.trim().parse()?;
    Ok(value * 2)
}

#[cached]
fn read(path: &str) -> std::io::Result<String> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    if path.is_empty() {
        return Err(std::io::Error::other("empty path"));
    }
    Ok(path.to_uppercase())
}

type MyResult<T> = Result<T, String>;

#[cached]
fn aliased(n: u32) -> MyResult<u32> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    n.checked_sub(1).ok_or_else(|| "zero".to_owned())
}

fn main() {
    assert_eq!(parse("21"), Ok(42));
    assert_eq!(parse("21"), Ok(42));
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    // Errors are not cached: the body runs again.
    assert_eq!(parse("x"), Err(ParseError));
    assert_eq!(parse("x"), Err(ParseError));
    assert_eq!(CALLS.load(Ordering::SeqCst), 3);
    parse_invalidate("21").unwrap();
    assert_eq!(parse_refresh("21"), Ok(42));
    assert_eq!(parse_refresh("x"), Err(ParseError));

    assert_eq!(read("a").unwrap(), "A");
    assert_eq!(read("a").unwrap(), "A");
    assert!(read("").is_err());
    read_invalidate("a").unwrap();
    assert_eq!(read_refresh("a").unwrap(), "A");

    assert_eq!(aliased(1), Ok(0));
    assert_eq!(aliased(0), Err("zero".to_owned()));
    aliased_invalidate(1).unwrap();
    assert_eq!(aliased_refresh(1), Ok(0));
}
