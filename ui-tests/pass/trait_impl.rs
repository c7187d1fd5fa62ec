// A method of a trait impl. The companions are methods of the impl too, so
// the trait must declare them (a trait impl can't hold other items).
use std::sync::atomic::{AtomicUsize, Ordering};

use cachetool::cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

trait Store {
    fn load(&self, id: u64) -> String;
    fn load_invalidate(&self, id: u64) -> cachetool::Result<()>;
    fn load_refresh(&self, id: u64) -> String;
}

struct Disk;

impl Store for Disk {
    #[cached(tags = ["disk"])]
    fn load(&self, id: u64) -> String {
        CALLS.fetch_add(1, Ordering::SeqCst);
        format!("disk {id}")
    }
}

fn use_store(store: &dyn Store) {
    assert_eq!(store.load(1), "disk 1");
    assert_eq!(store.load(1), "disk 1");
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    store.load_invalidate(1).unwrap();
    assert_eq!(store.load_refresh(1), "disk 1");
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
}

fn main() {
    use_store(&Disk);
}
