// `#[cached]` on an impl block: every `&self` method is cached with the
// block's options; a method's own `#[cached(...)]` adds tags and replaces
// the rest (and caches a method of another receiver); `#[cached(off)]` and
// methods without `&self` are left alone.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cachetool::cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

fn calls() -> usize {
    CALLS.load(Ordering::SeqCst)
}

struct Db;

#[derive(Clone)]
struct Repo {
    base: u64,
}

#[cached(ttl = 300, tags = ["repo"], skip(db))]
impl Repo {
    const LIMIT: u64 = 10;

    fn user(&self, id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        self.base + id
    }

    // Its own tags (over its own argument) add to the block's; `ttl` replaces it.
    #[cached(ttl = 10, tags = [format!("user:{id}")])]
    fn status(&self, id: u64) -> String {
        CALLS.fetch_add(1, Ordering::SeqCst);
        format!("status {id}")
    }

    // The block's `skip(db)` applies to the methods that have a `db`.
    fn row(&self, db: &Db, id: u64) -> u64 {
        let _ = db;
        CALLS.fetch_add(1, Ordering::SeqCst);
        id.min(Self::LIMIT)
    }

    #[cached(off)]
    fn uncached(&self, id: u64) -> &u64 {
        let _ = id;
        &self.base
    }

    fn new(base: u64) -> Repo {
        Repo { base }
    }

    fn rebase(&mut self, base: u64) -> u64 {
        self.base = base;
        base
    }

    fn into_base(self) -> u64 {
        self.base
    }

    // An explicit attribute caches a method of any receiver.
    #[cached]
    fn shared(self: Arc<Self>, id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        self.base * id
    }
}

struct Wrapper<T>(T);

#[cached]
impl<T: Clone + Send + Sync + 'static> Wrapper<T> {
    fn size(&self, n: u64) -> u64 {
        n * std::mem::size_of::<T>() as u64
    }
}

trait Store {
    fn load(&self, id: u64) -> String;
}

struct Disk;

// A trait impl: the companions go into an inherent `impl Disk` (see
// trait_impl_block.rs), so the trait declares none.
#[cached(tags = ["disk"], companions = [invalidate, refresh])]
impl Store for Disk {
    fn load(&self, id: u64) -> String {
        CALLS.fetch_add(1, Ordering::SeqCst);
        format!("disk {id}")
    }
}

fn main() {
    let mut repo = Repo::new(100);
    assert_eq!(repo.user(1), 101);
    assert_eq!(repo.user(1), 101);
    assert_eq!(calls(), 1);
    assert_eq!(repo.user_peek(1), Some(101));
    assert_eq!(repo.user_many([1, 2]), [101, 102]);
    repo.user_invalidate(1).unwrap();
    assert_eq!(repo.user_refresh(1), 101);
    assert_eq!(calls(), 3);

    assert_eq!(repo.status(1), "status 1");
    cachetool::global().clean(&["user:1"]).unwrap();
    assert_eq!(repo.status(1), "status 1");
    assert_eq!(calls(), 5);

    assert_eq!(repo.row(&Db, 50), 10);
    assert_eq!(repo.row_many(&Db, [50, 3]), [10, 3]);
    assert_eq!(calls(), 7);

    assert_eq!(*repo.uncached(1), 100);
    assert_eq!(repo.rebase(5), 5);
    assert_eq!(repo.rebase(6), 6);
    let shared = Arc::new(repo.clone());
    assert_eq!(shared.clone().shared(2), 12);
    assert_eq!(shared.shared_peek(2), Some(12));
    assert_eq!(repo.into_base(), 6);

    assert_eq!(Wrapper(0u32).size(2), 8);
    assert_eq!(Wrapper(0u32).size_peek(2), Some(8));

    let store: &dyn Store = &Disk;
    assert_eq!(store.load(1), "disk 1");
    Disk.load_invalidate(1).unwrap();
    assert_eq!(Disk.load_refresh(1), "disk 1");

    cachetool::global().clean(&["repo"]).unwrap();
    assert_eq!(Repo::new(0).user(1), 1);
}
