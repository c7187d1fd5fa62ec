// `skip(...)`: arguments that are not part of the key, including ones that
// couldn't be (not `Serialize`, `&mut`, `impl Trait`).
use std::fmt::Display;
use std::sync::atomic::{AtomicUsize, Ordering};

use cachetool::cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

struct Db {
    offset: u64,
}

#[cached(skip(db))]
fn row(db: &Db, id: u64) -> u64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    db.offset + id
}

#[cached(skip(log, label))]
fn logged(id: u64, log: &mut Vec<String>, label: impl Display) -> u64 {
    log.push(format!("{label} {id}"));
    id
}

fn main() {
    assert_eq!(row(&Db { offset: 10 }, 1), 11);
    // The db is not in the key: the cached value comes back.
    assert_eq!(row(&Db { offset: 20 }, 1), 11);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    row_invalidate(&Db { offset: 20 }, 1).unwrap();
    assert_eq!(row_refresh(&Db { offset: 20 }, 1), 21);
    assert_eq!(row(&Db { offset: 30 }, 1), 21);

    let mut log = Vec::new();
    assert_eq!(logged(1, &mut log, "a"), 1);
    assert_eq!(logged(1, &mut log, "b"), 1);
    assert_eq!(log, ["a 1"]);
    logged_invalidate(1, &mut log, 'c').unwrap();
    assert_eq!(logged_refresh(1, &mut log, 'd'), 1);
    assert_eq!(log, ["a 1", "d 1"]);
}
