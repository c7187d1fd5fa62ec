// Generic functions: type parameters are part of the key by name, const
// parameters by value; bounds and where clauses are kept.
use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};

use cachetool::cached;
use serde::de::DeserializeOwned;
use serde::Serialize;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn describe<T: Serialize + Debug>(value: T) -> String {
    CALLS.fetch_add(1, Ordering::SeqCst);
    format!("{value:?}")
}

#[cached]
fn make<T>() -> T
where
    T: Default + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    CALLS.fetch_add(1, Ordering::SeqCst);
    T::default()
}

#[cached]
fn repeat<'a, const N: usize>(s: &'a str) -> String {
    CALLS.fetch_add(1, Ordering::SeqCst);
    s.repeat(N)
}

struct Wrapper<T>(T);

impl<T: Serialize + Clone + DeserializeOwned + Send + Sync + 'static> Wrapper<T> {
    #[cached]
    fn with<U: Serialize>(&self, u: U) -> Vec<u8>
    where
        U: Copy,
    {
        CALLS.fetch_add(1, Ordering::SeqCst);
        let _ = (&self.0, u);
        vec![1]
    }
}

fn main() {
    assert_eq!(describe(1u8), "1");
    // Another type parameter: another key, even for an equal encoding.
    assert_eq!(describe(1u16), "1");
    assert_eq!(describe(1u8), "1");
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    describe_invalidate(1u8).unwrap();
    assert_eq!(describe_refresh(1u8), "1");

    assert_eq!(make::<u32>(), 0);
    assert_eq!(make::<String>(), "");
    assert_eq!(make::<u32>(), 0);
    assert_eq!(CALLS.load(Ordering::SeqCst), 5);
    make_invalidate::<u32>().unwrap();
    assert_eq!(make_refresh::<u32>(), 0);

    assert_eq!(repeat::<2>("a"), "aa");
    assert_eq!(repeat::<3>("a"), "aaa");
    assert_eq!(repeat::<2>("a"), "aa");
    assert_eq!(CALLS.load(Ordering::SeqCst), 8);
    repeat_invalidate::<2>("a").unwrap();
    assert_eq!(repeat_refresh::<2>("a"), "aa");

    let wrapper = Wrapper(5u8);
    assert_eq!(wrapper.with(1u8), [1]);
    wrapper.with_invalidate(1u8).unwrap();
    assert_eq!(wrapper.with_refresh(1u8), [1]);
}
