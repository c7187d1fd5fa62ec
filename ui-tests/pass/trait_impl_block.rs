// `#[cached]` on a trait impl: the methods stay the trait's, their companions
// go into an inherent impl of the type (same generics and where clause), so
// the trait declares nothing. The method and its companions share entries.
use std::sync::atomic::{AtomicUsize, Ordering};

use cachetool::cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

trait Store {
    type Id;

    fn load(&self, id: u64) -> String;
    fn id(&self, id: Self::Id) -> Self::Id;
    fn size(&self, name: &str) -> usize;
    fn touch(&mut self);
}

struct Disk {
    touched: u32,
}

#[cached(tags = ["disk"])]
impl Store for Disk {
    type Id = u64;

    fn load(&self, id: u64) -> String {
        CALLS.fetch_add(1, Ordering::SeqCst);
        format!("disk {id}")
    }

    // `Self::Id` is ambiguous in an inherent impl: the macro qualifies it.
    fn id(&self, id: Self::Id) -> Self::Id {
        let doubled: Self::Id = id * 2;
        doubled
    }

    #[cached(companions = [peek])]
    fn size(&self, name: &str) -> usize {
        name.len()
    }

    fn touch(&mut self) {
        self.touched += 1;
    }
}

trait Measure {
    fn measure(&self, n: u64) -> u64;
}

struct Sized<T>(T);

#[cached]
impl<T: Clone + 'static> Measure for Sized<T>
where
    T: Send,
{
    fn measure(&self, n: u64) -> u64 {
        n * std::mem::size_of::<T>() as u64
    }
}

#[cached(companions = false)]
impl<T: serde::Serialize> From<T> for Disk {
    fn from(_: T) -> Disk {
        Disk { touched: 0 }
    }
}

fn use_store(store: &dyn Store<Id = u64>) -> String {
    store.load(1)
}

fn main() {
    let mut disk = Disk { touched: 0 };
    assert_eq!(use_store(&disk), "disk 1");
    assert_eq!(disk.load(1), "disk 1");
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    // The companions see the trait method's entry.
    assert_eq!(disk.load_peek(1).as_deref(), Some("disk 1"));
    disk.load_invalidate(1).unwrap();
    assert_eq!(disk.load_peek(1), None);
    assert_eq!(disk.load_many([1, 2]), ["disk 1", "disk 2"]);
    assert_eq!(CALLS.load(Ordering::SeqCst), 3);
    assert_eq!(use_store(&disk), "disk 1");
    assert_eq!(CALLS.load(Ordering::SeqCst), 3);
    assert_eq!(disk.load_refresh(1), "disk 1");
    assert_eq!(CALLS.load(Ordering::SeqCst), 4);
    assert_eq!(disk.id(2), 4);
    assert_eq!(disk.id_peek(2), Some(4));
    assert_eq!(disk.size("abc"), 3);
    assert_eq!(disk.size_peek("abc"), Some(3));
    disk.touch();
    assert_eq!(disk.touched, 1);

    assert_eq!(Sized(0u32).measure(2), 8);
    assert_eq!(Sized(0u32).measure_peek(2), Some(8));
    assert_eq!(Sized(0u8).measure_many([2, 3]), [2, 3]);
    let _: Disk = Disk::from(1u8);
}
