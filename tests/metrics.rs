//! The `metrics` feature: per-function counters and a load-time histogram,
//! labelled `function` and `cache`, read from metrics-util's debugging recorder.
#![cfg(feature = "metrics")]

mod support;

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use cachetool::cached;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// The recorder of this test binary, installed before any cached call.
fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: LazyLock<Snapshotter> = LazyLock::new(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().expect("the only recorder");
        snapshotter
    });
    &SNAPSHOTTER
}

/// Counter totals and histogram samples by (metric, function, cache), kept
/// across snapshots: a snapshot drains the recorder, and the tests of this
/// binary take them concurrently.
#[derive(Default)]
struct Seen {
    counters: HashMap<(String, String, String), u64>,
    samples: HashMap<(String, String, String), Vec<f64>>,
}

fn seen() -> std::sync::MutexGuard<'static, Seen> {
    static SEEN: LazyLock<Mutex<Seen>> = LazyLock::new(Default::default);
    let mut seen = SEEN.lock().unwrap();
    for (key, _, _, value) in snapshotter().snapshot().into_vec() {
        let key = key.key();
        let label = |name: &str| {
            key.labels()
                .find(|label| label.key() == name)
                .map(|label| label.value().to_owned())
                .unwrap_or_default()
        };
        let id = (key.name().to_owned(), label("function"), label("cache"));
        match value {
            DebugValue::Counter(count) => *seen.counters.entry(id).or_default() += count,
            DebugValue::Histogram(samples) => seen
                .samples
                .entry(id)
                .or_default()
                .extend(samples.into_iter().map(|sample| sample.into_inner())),
            DebugValue::Gauge(_) => {}
        }
    }
    seen
}

/// `module_path!()` as keys write it: `.` for `::`, `async` for `r#async`.
macro_rules! path_of_this_module {
    () => {
        module_path!().replace("::", ".").replace("r#", "")
    };
}

support::modes::for_each_mode! {
    #[cached(cache = cache("metrics"))]
    fn square(n: u32) -> u32 {
        n * n
    }

    #[cached(cache = cache("metrics"), name = "metrics.checked")]
    fn checked(n: u32) -> Result<u32, String> {
        if n == 0 { Err("zero".into()) } else { Ok(n) }
    }

    #[test]
    fn counters_and_the_histogram_are_labelled_by_function_and_cache() {
        snapshotter();
        let prefix = cache("metrics").prefix().to_owned();
        call!(square(2)); // miss, load
        call!(square(2)); // hit
        call!(square(2)); // hit
        call!(square(3)); // miss, load
        let _ = call!(checked(0)); // miss, failed load
        let _ = call!(checked(0)); // miss, failed load (errors are not stored)

        let square = format!("{}.square", path_of_this_module!());
        let seen = seen();
        let count = |name: &str, function: &str| {
            seen.counters
                .get(&(name.to_owned(), function.to_owned(), prefix.clone()))
                .copied()
                .unwrap_or(0)
        };
        assert_eq!(count("cachetool_hits_total", &square), 2);
        assert_eq!(count("cachetool_misses_total", &square), 2);
        assert_eq!(count("cachetool_loads_total", &square), 2);
        assert_eq!(count("cachetool_load_errors_total", &square), 0);
        assert_eq!(count("cachetool_backend_errors_total", &square), 0);
        assert_eq!(count("cachetool_hits_total", "metrics.checked"), 0);
        assert_eq!(count("cachetool_misses_total", "metrics.checked"), 2);
        assert_eq!(count("cachetool_loads_total", "metrics.checked"), 2);
        assert_eq!(count("cachetool_load_errors_total", "metrics.checked"), 2);
        let samples = &seen.samples[&("cachetool_load_seconds".to_owned(), square.clone(), prefix.clone())];
        assert_eq!(samples.len(), 2, "one sample per load");
        assert!(samples.iter().all(|&seconds| (0.0..60.0).contains(&seconds)), "{samples:?}");
    }
}

#[cfg(feature = "redis")]
mod backend_errors {
    use super::*;
    use cachetool::Cache;

    static DOWN: LazyLock<Cache> = LazyLock::new(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Cache::builder()
            .redis(&format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .prefix(support::unique_prefix("metrics-down"))
            .build()
            .unwrap()
    });

    #[cached(cache = DOWN, name = "down.answer")]
    fn answer(n: u32) -> u32 {
        n
    }

    #[test]
    fn a_failed_backend_operation_counts_as_a_backend_error() {
        snapshotter();
        assert_eq!(answer(1), 1);
        assert_eq!(answer(1), 1);
        let seen = seen();
        let key = |name: &str| {
            (
                name.to_owned(),
                "down.answer".to_owned(),
                DOWN.prefix().to_owned(),
            )
        };
        assert_eq!(seen.counters[&key("cachetool_backend_errors_total")], 2);
        assert_eq!(seen.counters[&key("cachetool_misses_total")], 2);
        assert_eq!(seen.counters[&key("cachetool_loads_total")], 2);
    }
}

#[cfg(feature = "redis")]
mod local_hits {
    use super::*;
    use cachetool::Cache;
    use cachetool_test_harness::{Kind, Server};

    static SERVER: LazyLock<Server> = LazyLock::new(|| Server::start(Kind::Redis));
    static TWO_LEVEL: LazyLock<Cache> = LazyLock::new(|| {
        Cache::builder()
            .redis(&SERVER.url())
            .unwrap()
            .local(100)
            .prefix(support::unique_prefix("metrics-local"))
            .build()
            .unwrap()
    });

    #[cached(cache = TWO_LEVEL, name = "local.answer")]
    fn answer(n: u32) -> u32 {
        n
    }

    #[test]
    fn a_local_hit_counts_as_a_hit_and_a_local_hit() {
        snapshotter();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        // Until the channel is up and the stored value fills the local tier.
        while TWO_LEVEL.stats().local_hits == 0 {
            assert!(std::time::Instant::now() < deadline, "no local hit");
            assert_eq!(answer(1), 1);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let stats = TWO_LEVEL.stats();
        let seen = seen();
        let count = |name: &str| {
            let key = (
                name.to_owned(),
                "local.answer".to_owned(),
                TWO_LEVEL.prefix().to_owned(),
            );
            seen.counters.get(&key).copied().unwrap_or(0)
        };
        assert_eq!(count("cachetool_local_hits_total"), stats.local_hits);
        assert_eq!(count("cachetool_hits_total"), stats.hits);
        assert!(stats.hits >= stats.local_hits, "{stats:?}");
    }
}
