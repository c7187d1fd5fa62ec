//! `tracing`: a `cachetool.load` span for each load (function, key hash,
//! backend, outcome), an event naming the server, command and key of every
//! backend error, and nothing at all on a hit.

#[path = "support/capture.rs"]
mod capture;
mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use cachetool::{cached, Cache};
use support::BackendKind;

fn backend_name(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Memory => "memory",
        BackendKind::Redis => "redis",
        BackendKind::Memcached => "memcached",
    }
}

/// `module_path!()` as keys write it: `.` for `::`, `async` for `r#async`.
macro_rules! path_of_this_module {
    () => {
        module_path!().replace("::", ".").replace("r#", "")
    };
}

support::modes::for_each_mode! {
    #[cached(cache = cache("spans"))]
    fn compute(n: u32) -> u32 {
        n + 1
    }

    #[cached(cache = cache("spans"))]
    fn fails(n: u32) -> Result<u32, String> {
        Err(format!("no {n}"))
    }

    #[test]
    fn each_load_is_a_span_with_its_outcome_and_a_hit_is_none() {
        let capture = capture::global();
        let prefix = cache("spans").prefix().to_owned();
        assert_eq!(call!(compute(1)), 2);
        let loads = capture.loads(&prefix);
        assert_eq!(loads.len(), 1, "{loads:?}");
        let function = format!("{}.compute", path_of_this_module!());
        assert_eq!(loads[0]["function"], function);
        assert_eq!(loads[0]["backend"], backend_name(KIND));
        assert_eq!(loads[0]["cache"], prefix);
        assert_eq!(loads[0]["outcome"], "computed");
        let key = cachetool::admin::entry_key(&prefix, &function, &[1u32]).unwrap();
        assert!(key.ends_with(&format!(":{}", loads[0]["key_hash"])), "{key} {loads:?}");

        let seen = capture.of_cache(&prefix).len();
        assert_eq!(call!(compute(1)), 2);
        assert_eq!(capture.of_cache(&prefix).len(), seen, "a hit records nothing");

        assert!(call!(fails(3)).is_err());
        assert_eq!(call!(compute_refresh(1)), 2);
        let outcomes: Vec<String> = capture
            .loads(&prefix)
            .iter()
            .map(|load| load["outcome"].clone())
            .collect();
        assert_eq!(outcomes, ["computed", "error", "computed"]);
    }

    static PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);
    static GATED_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("spans-joined"))]
    fn gated(n: u32) -> u32 {
        GATED_RUNS.fetch_add(1, SeqCst);
        call!(rt::Pause::take_and_wait(&PAUSE));
        n
    }

    #[test]
    fn a_caller_handed_another_callers_value_has_joined() {
        let capture = capture::global();
        let prefix = cache("spans-joined").prefix().to_owned();
        let pause = rt::Pause::arm(&PAUSE);
        let leader = spawn!({ call!(gated(5)) });
        wait!(pause.started);
        let waiter = spawn!({ call!(gated(5)) });
        let waiting = || {
            capture.events(&prefix).iter().any(|(_, fields)| {
                fields.get("message").is_some_and(|message| message.contains("waiting"))
            })
        };
        until!(waiting(), "the second caller to wait");
        wait!(pause.resume);
        assert_eq!((join!(leader).unwrap(), join!(waiter).unwrap()), (5, 5));
        assert_eq!(GATED_RUNS.load(SeqCst), 1);
        let mut outcomes: Vec<String> = capture
            .loads(&prefix)
            .iter()
            .map(|load| load["outcome"].clone())
            .collect();
        outcomes.sort();
        assert_eq!(outcomes, ["computed", "joined"]);
    }

    /// One program among several sharing a backend and a prefix: a cache of
    /// its own, so no computation is shared in process.
    struct Process {
        cache: Cache,
    }

    static PROCESS_PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);
    static PROCESS_RUNS: AtomicUsize = AtomicUsize::new(0);

    impl Process {
        #[cached(cache = self.cache)]
        fn slow(&self, n: u32) -> u32 {
            PROCESS_RUNS.fetch_add(1, SeqCst);
            call!(rt::Pause::take_and_wait(&PROCESS_PAUSE));
            n * 10
        }
    }

    #[test]
    fn a_value_stored_meanwhile_by_another_process_is_from_another_process() {
        let capture = capture::global();
        let prefix = support::unique_prefix("spans-process");
        let process = || {
            let cache = Cache::builder()
                .backend(support::backend(KIND))
                .prefix(&prefix)
                .build()
                .unwrap();
            Arc::new(Process { cache })
        };
        let (first, second) = (process(), process());
        let pause = rt::Pause::arm(&PROCESS_PAUSE);
        let computing = spawn!({ call!(first.slow(2)) });
        wait!(pause.started);
        let opened = || {
            capture
                .of_cache(&prefix)
                .iter()
                .filter(|record| matches!(record, capture::Record::Opened { name: "cachetool.load", .. }))
                .count()
        };
        if KIND == BackendKind::Memory {
            // In this process's memory there is no other process: the caches
            // of one prefix share their computations in flight, and the
            // second waits for the first's.
            let joins = second.cache.__flight_joins();
            let waiter = Arc::clone(&second);
            let waiting = spawn!({ call!(waiter.slow(2)) });
            until!(second.cache.__flight_joins() > joins, "the second caller to wait");
            wait!(pause.resume);
            assert_eq!(join!(computing).unwrap(), 20);
            assert_eq!(join!(waiting).unwrap(), 20);
            assert_eq!(PROCESS_RUNS.load(SeqCst), 1, "computed once");
            let mut outcomes: Vec<String> = capture.loads(&prefix).iter().map(|l| l["outcome"].clone()).collect();
            outcomes.sort();
            assert_eq!(outcomes, ["computed", "joined"]);
            return;
        }
        let waiting = spawn!({ call!(second.slow(2)) });
        // The second process missed; it now waits for the first one's lock,
        // or finds its value.
        until!(opened() == 2, "the second process's load");
        wait!(pause.resume);
        assert_eq!((join!(computing).unwrap(), join!(waiting).unwrap()), (20, 20));
        assert_eq!(PROCESS_RUNS.load(SeqCst), 1);
        let mut outcomes: Vec<String> = capture.loads(&prefix).iter().map(|l| l["outcome"].clone()).collect();
        outcomes.sort();
        assert_eq!(outcomes, ["computed", "from_another_process"]);
    }
}

/// Backend errors, on servers that are down: a free loopback port with nothing listening.
#[cfg(any(feature = "redis", feature = "memcached"))]
mod backend_errors {
    use std::time::Duration;

    use super::*;

    fn dead_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    fn dead_cache(url: &str) -> Cache {
        Cache::builder()
            .url(url)
            .unwrap()
            .prefix(support::unique_prefix("dead"))
            .connect_timeout(Duration::from_millis(500))
            .build()
            .unwrap()
    }

    static DEAD: Mutex<Option<&'static Cache>> = Mutex::new(None);

    fn dead() -> &'static Cache {
        DEAD.lock().unwrap().expect("the test sets the cache")
    }

    #[cached(cache = dead())]
    fn answer(n: u32) -> u32 {
        n
    }

    #[cfg(feature = "tokio")]
    #[cached(cache = dead(), name = "answer_async")]
    async fn answer_async(n: u32) -> u32 {
        n
    }

    /// The one warning of a call on a server that is down, and its load's span.
    fn check(capture: &capture::Capture, cache: &Cache, port: u16, command: &str, function: &str) {
        let prefix = cache.prefix();
        let events = capture.events(prefix);
        assert_eq!(events.len(), 1, "{events:?}");
        let (level, fields) = &events[0];
        assert_eq!(*level, tracing::Level::WARN);
        assert_eq!(fields["server"], format!("127.0.0.1:{port}"), "{fields:?}");
        assert_eq!(fields["command"], command, "{fields:?}");
        let key = cachetool::admin::entry_key(prefix, function, &[7u32]).unwrap();
        assert_eq!(fields["key"], key);
        assert_eq!(
            fields["function"],
            cachetool::admin::function_path(function)
        );
        let loads = capture.loads(prefix);
        assert_eq!(loads.len(), 1);
        assert_eq!(loads[0]["outcome"], "computed");
        assert_eq!(cache.stats().errors, 1);
    }

    // Both schemes in one test: the function reads its cache from `DEAD`.
    #[test]
    fn a_backend_error_is_an_event_naming_server_command_and_key() {
        let capture = capture::global();
        let cases = [
            // What failed: Redis's connect; the first memcached command (which connects).
            #[cfg(feature = "redis")]
            ("redis", "connect"),
            #[cfg(feature = "memcached")]
            ("memcache", "gets"),
        ];
        for (scheme, command) in cases {
            let port = dead_port();
            let cache = dead_cache(&format!("{scheme}://127.0.0.1:{port}"));
            *DEAD.lock().unwrap() = Some(Box::leak(Box::new(cache.clone())));
            assert_eq!(
                answer(7),
                7,
                "a call on a dead server returns its own value"
            );
            check(
                capture,
                &cache,
                port,
                command,
                "tracing_spans::backend_errors::answer",
            );

            #[cfg(feature = "tokio")]
            {
                let port = dead_port();
                let cache = dead_cache(&format!("{scheme}://127.0.0.1:{port}"));
                *DEAD.lock().unwrap() = Some(Box::leak(Box::new(cache.clone())));
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                assert_eq!(runtime.block_on(answer_async(7)), 7);
                check(capture, &cache, port, command, "answer_async");
            }
        }
    }
}

/// Nothing at all on a hit, on any thread: the hits run under a subscriber
/// of their own on this thread (a memcached call of an async fn runs on
/// tokio's blocking pool, which the global capture sees).
mod quiet_hits {
    use super::*;

    static QUIET: Mutex<Option<&'static Cache>> = Mutex::new(None);

    fn quiet() -> &'static Cache {
        QUIET.lock().unwrap().expect("the test sets the cache")
    }

    #[cached(cache = quiet(), tags = ["quiet"])]
    fn hit_me(n: u32) -> u32 {
        n
    }

    #[cfg(feature = "tokio")]
    #[cached(cache = quiet(), tags = ["quiet"], name = "hit_me_async")]
    async fn hit_me_async(n: u32) -> u32 {
        n
    }

    #[test]
    fn a_hit_records_no_span_and_no_event() {
        let global = capture::global();
        let kinds = [
            BackendKind::Memory,
            #[cfg(feature = "redis")]
            BackendKind::Redis,
            #[cfg(feature = "memcached")]
            BackendKind::Memcached,
        ];
        for kind in kinds {
            let cache = support::new_cache(kind, "quiet");
            *QUIET.lock().unwrap() = Some(Box::leak(Box::new(cache.clone())));
            #[cfg(feature = "tokio")]
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            // The misses that store the values.
            assert_eq!(hit_me(1), 1);
            #[cfg(feature = "tokio")]
            assert_eq!(runtime.block_on(hit_me_async(2)), 2);
            let seen = global.of_cache(cache.prefix()).len();
            let (local, dispatch) = capture::Capture::new();
            tracing::dispatcher::with_default(&dispatch, || {
                for _ in 0..10 {
                    assert_eq!(hit_me(1), 1);
                }
                #[cfg(feature = "tokio")]
                runtime.block_on(async {
                    for _ in 0..10 {
                        assert_eq!(hit_me_async(2).await, 2);
                    }
                });
            });
            assert_eq!(local.all().len(), 0, "{kind:?}: {:?}", local.all());
            assert_eq!(global.of_cache(cache.prefix()).len(), seen, "{kind:?}");
            assert_eq!(
                cache.stats().hits,
                if cfg!(feature = "tokio") { 20 } else { 10 }
            );
        }
    }
}
