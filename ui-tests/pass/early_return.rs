// `return` in the body returns the function's value (it is cached like the tail one).
use std::sync::atomic::{AtomicUsize, Ordering};

use cachetool::cached;

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[cached]
fn classify(n: i64) -> String {
    CALLS.fetch_add(1, Ordering::SeqCst);
    if n < 0 {
        return "negative".to_owned();
    }
    for _ in 0..n {
        if n > 10 {
            return "big".to_owned();
        }
    }
    "small".to_owned()
}

#[cached]
fn first_even(values: Vec<u32>) -> Option<u32> {
    for value in values {
        if value % 2 == 0 {
            return Some(value);
        }
    }
    None
}

fn main() {
    assert_eq!(classify(-1), "negative");
    assert_eq!(classify(-1), "negative");
    assert_eq!(classify(20), "big");
    assert_eq!(classify(3), "small");
    assert_eq!(CALLS.load(Ordering::SeqCst), 3);
    classify_invalidate(-1).unwrap();
    assert_eq!(classify_refresh(-1), "negative");

    assert_eq!(first_even(vec![1, 4, 6]), Some(4));
    first_even_invalidate(vec![1, 4, 6]).unwrap();
    assert_eq!(first_even_refresh(vec![1, 3]), None);
}
