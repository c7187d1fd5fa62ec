// `foo_many(items) -> Vec<R>`: an item is the key argument, or a tuple of the
// key arguments where there are several; skipped and `_` arguments come
// first, taken once. Borrowed item types, patterns, `mut`, generics, `key =`,
// `Result` and async functions.
use cachetool::cached;

struct Db {
    name: String,
}

struct Conn {
    calls: u64,
}

#[cached]
fn square(n: u64) -> u64 {
    n * n
}

#[cached(skip(db))]
fn row(db: &Db, table: &str, id: u64) -> String {
    format!("{}.{table}.{id}", db.name)
}

#[cached(skip(conn))]
fn next(conn: &mut Conn, id: u64) -> u64 {
    conn.calls += 1;
    id + conn.calls
}

#[cached]
fn sum((a, b): (u64, u64), mut c: u64, _: &str) -> u64 {
    c += 1;
    a + b + c
}

#[cached]
fn sized<T: 'static>(n: u64) -> u64 {
    n * std::mem::size_of::<T>() as u64
}

#[cached(key = format!("{id}"))]
fn keyed(id: u64, verbose: bool) -> String {
    format!("{id} {verbose}")
}

#[cached]
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

#[cached]
fn text(name: std::borrow::Cow<'_, str>) -> String {
    name.into_owned()
}

#[cached(skip(db))]
async fn fetch(db: &Db, id: u64) -> String {
    format!("{}:{id}", db.name)
}

static SHARDS: std::sync::LazyLock<[cachetool::Cache; 2]> =
    std::sync::LazyLock::new(|| [cachetool::Cache::memory(), cachetool::Cache::memory()]);

fn shard_cache(shard: u8) -> &'static cachetool::Cache {
    &SHARDS[usize::from(shard % 2)]
}

// A `cache = ...` over an item's argument is evaluated for each item: the
// items are read from each cache they fall in.
#[cached(cache = shard_cache(shard))]
fn sharded(shard: u8, id: u64) -> u64 {
    u64::from(shard) * 100 + id
}

fn owned_cache() -> cachetool::Cache {
    cachetool::global().clone()
}

// An owned `Cache` is made once for all items.
#[cached(cache = owned_cache())]
fn in_owned(id: u64) -> u64 {
    id
}

struct Repo {
    base: u64,
}

// A method with a receiver gets `_many` when asked for it.
impl Repo {
    #[cached(companions = true)]
    fn get(&self, id: u64) -> u64 {
        self.base + id
    }

    #[cached(skip(conn), companions = [many])]
    async fn load(&self, conn: &mut Conn, id: u64) -> u64 {
        conn.calls += 1;
        self.base + id
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(square_many([1, 2, 3]), [1, 4, 9]);
    assert_eq!(square_many(vec![3]), [9]);
    assert_eq!(square_many(1..=2), [1, 4]);

    let db = Db { name: "db".to_string() };
    assert_eq!(row_many(&db, [("t", 1), ("u", 2)]), ["db.t.1", "db.u.2"]);

    let mut conn = Conn { calls: 0 };
    assert_eq!(next_many(&mut conn, [10, 20]), [11, 22]);
    assert_eq!(conn.calls, 2);

    assert_eq!(sum_many("ignored", [((1, 2), 3), ((0, 0), 0)]), [7, 1]);
    assert_eq!(sized_many::<u32>([1, 2]), [4, 8]);
    assert_eq!(keyed_many([(1, true), (1, false)]), ["1 true", "1 true"]);
    let parsed = parse_many(["1", "x"]);
    assert_eq!(parsed[0], Ok(1));
    assert!(parsed[1].is_err());
    assert_eq!(text_many([std::borrow::Cow::Borrowed("a")]), ["a"]);

    assert_eq!(sharded_many([(0, 1), (1, 1), (2, 2)]), [1, 101, 202]);
    assert_eq!(sharded_peek(1, 1), Some(101));
    assert_eq!(in_owned_many([1, 2]), [1, 2]);

    let repo = Repo { base: 100 };
    assert_eq!(repo.get_many([1, 2]), [101, 102]);

    assert_eq!(fetch_many(&db, [1, 2]).await, ["db:1", "db:2"]);
    let mut conn = Conn { calls: 0 };
    assert_eq!(repo.load_many(&mut conn, [1, 2]).await, [101, 102]);
    assert_eq!(conn.calls, 2);
}
