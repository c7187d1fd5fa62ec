//! `Cache::stats_by_function`: each function's own counters, by its identity
//! in keys, adding up to the cache's.

mod support;

use cachetool::cached;

/// `module_path!()` as keys write it: `.` for `::`, `async` for `r#async`.
macro_rules! path_of_this_module {
    () => {
        module_path!().replace("::", ".").replace("r#", "")
    };
}

support::modes::for_each_mode! {
    #[cached(cache = cache("by_function"))]
    fn double(n: u32) -> u32 {
        n * 2
    }

    #[cached(cache = cache("by_function"), name = "named.triple", version = 2)]
    fn triple(n: u32) -> Result<u32, String> {
        if n == 0 { Err("zero".into()) } else { Ok(n * 3) }
    }

    #[cached(cache = cache("by_function_other"))]
    fn elsewhere(n: u32) -> u32 {
        n
    }

    #[test]
    fn each_function_counts_its_own_calls() {
        let numbers = cache("by_function");
        assert!(numbers.stats_by_function().is_empty(), "no call yet");
        call!(double(1)); // miss, load
        call!(double(1)); // hit
        call!(double(2)); // miss, load
        let _ = call!(triple(0)); // miss, failed load
        call!(triple(1)).unwrap(); // miss, load
        call!(triple(1)).unwrap(); // hit
        call!(triple_refresh(1)).unwrap(); // load
        call!(elsewhere(1)); // another cache's

        let by_function = numbers.stats_by_function();
        let double_path = format!("{}.double", path_of_this_module!());
        let mut names: Vec<&str> = by_function.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["named.triple@v2", double_path.as_str()]);

        let double = by_function[&double_path];
        assert_eq!(
            (double.hits, double.misses, double.loads, double.load_errors, double.errors),
            (1, 2, 2, 0, 0)
        );
        let triple = by_function["named.triple@v2"];
        assert_eq!(
            (triple.hits, triple.misses, triple.loads, triple.load_errors, triple.errors),
            (1, 2, 3, 1, 0)
        );

        let total = numbers.stats();
        assert_eq!(total.hits, double.hits + triple.hits);
        assert_eq!(total.misses, double.misses + triple.misses);
        assert_eq!(total.loads, double.loads + triple.loads);
        assert_eq!(total.load_time, double.load_time + triple.load_time);

        let other = cache("by_function_other").stats_by_function();
        let elsewhere_path = format!("{}.elsewhere", path_of_this_module!());
        assert_eq!(other.len(), 1);
        assert_eq!((other[&elsewhere_path].misses, other[&elsewhere_path].loads), (1, 1));
    }

    #[cached(cache = cache("by_function_shared"), name = "shared.name")]
    fn first_of_two(n: u32) -> u32 {
        n + 1
    }

    #[cached(cache = cache("by_function_shared"), name = "shared.name")]
    fn second_of_two(n: u32) -> u32 {
        n + 1
    }

    #[test]
    fn functions_sharing_a_name_share_their_counters() {
        let shared_cache = cache("by_function_shared");
        call!(first_of_two(1)); // miss, load
        call!(second_of_two(1)); // a hit: the same entry
        let by_function = shared_cache.stats_by_function();
        assert_eq!(by_function.len(), 1);
        let shared = by_function["shared.name"];
        assert_eq!((shared.hits, shared.misses, shared.loads), (1, 1, 1));
    }
}
