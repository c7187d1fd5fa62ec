// `foo_peek(args) -> Option<T>`: the stored value, if current; `T` is the
// `Ok` type of a `Result`; async for async functions; with the function's
// generics and receiver.
use cachetool::cached;

#[cached]
fn square(n: u64) -> u64 {
    n * n
}

#[cached]
fn parse(text: String) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

#[cached]
fn read(path: &str) -> std::io::Result<Vec<u8>> {
    Ok(path.as_bytes().to_vec())
}

#[cached]
fn unit(n: u64) {
    let _ = n;
}

#[cached]
fn sized<T: 'static>(n: u64) -> u64 {
    n * std::mem::size_of::<T>() as u64
}

#[cached]
async fn page(id: u64) -> String {
    format!("page {id}")
}

struct Repo;

impl Repo {
    // A method with a receiver gets `_peek` when asked for it.
    #[cached(companions = [peek])]
    fn get(&self, (a, b): (u64, u64)) -> u64 {
        a + b
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(square_peek(3), None);
    assert_eq!(square(3), 9);
    assert_eq!(square_peek(3), Some(9));

    let peeked: Option<u32> = parse_peek("4".to_string());
    assert_eq!(peeked, None);
    assert_eq!(parse("4".to_string()), Ok(4));
    assert_eq!(parse_peek("4".to_string()), Some(4));

    let peeked: Option<Vec<u8>> = read_peek("a");
    assert_eq!(peeked, None);
    read("a").unwrap();
    assert_eq!(read_peek("a"), Some(b"a".to_vec()));

    assert_eq!(unit_peek(1), None);
    unit(1);
    assert_eq!(unit_peek(1), Some(()));

    assert_eq!(sized::<u32>(2), 8);
    assert_eq!(sized_peek::<u32>(2), Some(8));
    assert_eq!(sized_peek::<u64>(2), None);

    assert_eq!(Repo.get((1, 2)), 3);
    assert_eq!(Repo.get_peek((1, 2)), Some(3));

    assert_eq!(page_peek(1).await, None);
    page(1).await;
    assert_eq!(page_peek(1).await.as_deref(), Some("page 1"));
}
