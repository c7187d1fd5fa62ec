//! A cached function runs its body once per distinct arguments; every kind of
//! answer, `()` and `None` included, is cached; only `Ok` of a `Result` is.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cachetool::cached;
use serde::{Deserialize, Serialize};

#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// A nested argument.
pub struct Inner {
    pub weight: f64,
    pub labels: Vec<String>,
}

#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// An argument holding a nested struct, a map and a float.
pub struct Outer {
    pub id: u64,
    pub inner: Inner,
    pub extra: Option<BTreeMap<String, i32>>,
}

support::modes::for_each_mode! {

    static SIMPLE_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("hits"))]
    fn simple(a: &str, b: &str) -> String {
        SIMPLE_RUNS.fetch_add(1, SeqCst);
        format!("{a}+{b}")
    }

    #[test]
    fn the_body_runs_once_in_four_calls() {
        for _ in 0..4 {
            assert_eq!(call!(simple("x", "y")), "x+y");
        }
        assert_eq!(SIMPLE_RUNS.load(SeqCst), 1);
    }

    static COMPLEX_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("hits"))]
    fn complex(list: Vec<u32>, map: HashMap<String, u32>, outer: Outer, ratio: f64) -> (usize, f64) {
        COMPLEX_RUNS.fetch_add(1, SeqCst);
        (list.len() + map.len() + outer.inner.labels.len(), ratio * outer.inner.weight)
    }

    fn outer(weight: f64) -> Outer {
        Outer {
            id: 7,
            inner: Inner { weight, labels: vec!["a".into(), "b".into()] },
            extra: Some(BTreeMap::from([("k".to_string(), -1)])),
        }
    }

    #[test]
    fn complex_arguments_hit_when_equal_and_miss_when_not() {
        // Equal maps built in different orders are equal arguments.
        let forward: HashMap<String, u32> = (0..40).map(|i| (format!("k{i}"), i)).collect();
        let backward: HashMap<String, u32> = (0..40).rev().map(|i| (format!("k{i}"), i)).collect();
        assert_eq!(call!(complex(vec![1, 2], forward.clone(), outer(0.5), 2.0)), (44, 1.0));
        assert_eq!(call!(complex(vec![1, 2], backward, outer(0.5), 2.0)), (44, 1.0));
        assert_eq!(COMPLEX_RUNS.load(SeqCst), 1);
        assert_eq!(call!(complex(vec![1, 2], forward.clone(), outer(0.25), 2.0)), (44, 0.5));
        assert_eq!(call!(complex(vec![2, 1], forward.clone(), outer(0.5), 2.0)), (44, 1.0));
        assert_eq!(call!(complex(vec![1, 2], forward, outer(0.5), 2.5)), (44, 1.25));
        assert_eq!(COMPLEX_RUNS.load(SeqCst), 4);
    }

    static UNIT_RUNS: AtomicUsize = AtomicUsize::new(0);
    static NONE_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("hits"))]
    fn returns_unit(_n: u8) {
        UNIT_RUNS.fetch_add(1, SeqCst);
    }

    #[cached(cache = cache("hits"))]
    fn returns_none(n: u8) -> Option<u8> {
        NONE_RUNS.fetch_add(1, SeqCst);
        (n > 100).then_some(n)
    }

    #[test]
    fn unit_and_none_are_cached_like_any_value() {
        call!(returns_unit(1));
        call!(returns_unit(1));
        assert_eq!(UNIT_RUNS.load(SeqCst), 1);
        assert_eq!(call!(returns_none(1)), None);
        assert_eq!(call!(returns_none(1)), None);
        assert_eq!(NONE_RUNS.load(SeqCst), 1);
    }

    static FALLIBLE_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("hits"))]
    fn fallible(n: i32) -> Result<i32, String> {
        FALLIBLE_RUNS.fetch_add(1, SeqCst);
        let parsed: i32 = if n < 0 { "not a number".parse().map_err(|_| format!("negative: {n}"))? } else { n };
        Ok(parsed * 2)
    }

    #[test]
    fn only_ok_results_are_cached() {
        assert_eq!(call!(fallible(-1)), Err("negative: -1".to_string()));
        assert_eq!(call!(fallible(-1)), Err("negative: -1".to_string()));
        assert_eq!(FALLIBLE_RUNS.load(SeqCst), 2, "an Err is never stored");
        assert_eq!(call!(fallible(4)), Ok(8));
        assert_eq!(call!(fallible(4)), Ok(8));
        assert_eq!(FALLIBLE_RUNS.load(SeqCst), 3);
    }
}
