use std::rc::Rc;

use cachetool::cached;
use serde::Serialize;

#[derive(Serialize)]
struct Query {
    id: u32,
}

// Not `Clone`: the recomputation in the background can't take a copy.
#[cached(ttl = 60, stale = 30)]
fn by_query(query: Query) -> u32 {
    query.id
}

// Not `Send`: the copy can't go to another thread.
#[cached(ttl = 60, refresh_ahead = 0.5, skip(shared))]
fn shared_counter(id: u32, shared: Rc<u32>) -> u32 {
    id + *shared
}

fn main() {
    by_query(Query { id: 1 });
    shared_counter(1, Rc::new(2));
}
