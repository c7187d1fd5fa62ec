//! Dogpile protection: concurrent misses of one key run the body once; with
//! `lock = false` they don't; different keys never wait for each other; a
//! panicking body wakes its waiters and poisons nothing.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cachetool::cached;

const THREADS: usize = 32;
/// Bounds every wait of these tests.
const PATIENCE: Duration = Duration::from_secs(20);

/// Runs `$call` on `THREADS` threads (tasks) that start it together, past
/// one barrier; gives what each returned.
macro_rules! all_at_once {
    ($call:expr) => {{
        let barrier = Arc::new(rt::Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                spawn!({
                    wait!(barrier);
                    $call
                })
            })
            .collect();
        let mut results = Vec::new();
        for handle in handles {
            results.push(join!(handle).unwrap());
        }
        results
    }};
}

// In async mode, "threads" are tasks, the barriers and pauses are tokio's and
// every wait is awaited.
support::modes::for_each_mode! {
    static LOCKED_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("dogpile"))]
    fn slow_locked(n: u32) -> u32 {
        LOCKED_RUNS.fetch_add(1, SeqCst);
        sleep!(Duration::from_millis(100));
        n * 2
    }

    #[test]
    fn thirty_two_threads_on_one_cold_key_run_the_body_once() {
        assert_eq!(all_at_once!(call!(slow_locked(21))), vec![42; THREADS]);
        assert_eq!(LOCKED_RUNS.load(SeqCst), 1);
    }

    static UNLOCKED_RUNS: AtomicUsize = AtomicUsize::new(0);
    static UNLOCKED_RUNNING: AtomicUsize = AtomicUsize::new(0);

    /// Waits (bounded) until another call runs at the same time: with no lock,
    /// two calls of one cold key do.
    #[cached(cache = cache("dogpile"), lock = false)]
    fn unlocked(n: u32) -> u32 {
        UNLOCKED_RUNS.fetch_add(1, SeqCst);
        UNLOCKED_RUNNING.fetch_add(1, SeqCst);
        until!(UNLOCKED_RUNNING.load(SeqCst) >= 2, "a second concurrent body");
        n * 2
    }

    #[test]
    fn with_lock_false_concurrent_misses_each_run_the_body() {
        assert_eq!(all_at_once!(call!(unlocked(21))), vec![42; THREADS]);
        let runs = UNLOCKED_RUNS.load(SeqCst);
        assert!(runs >= 2, "the body ran {runs} times");
    }

    static PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);

    /// Key 1 stops at the pause until the test lets it go; other keys return at once.
    #[cached(cache = cache("dogpile"))]
    fn gated(n: u32) -> u32 {
        if n == 1 {
            call!(rt::Pause::take_and_wait(&PAUSE));
        }
        n
    }

    #[test]
    fn different_keys_never_wait_for_each_other() {
        let pause = rt::Pause::arm(&PAUSE);
        let blocked = spawn!({ call!(gated(1)) });
        wait!(pause.started);
        let (done, finished) = rt::channel();
        spawn!({ done.send(call!(gated(2))).unwrap() });
        assert_eq!(recv!(finished, PATIENCE), Some(2), "key 2 finished while key 1 was still computing");
        wait!(pause.resume);
        assert_eq!(join!(blocked).unwrap(), 1);
    }

    static PANIC_PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);
    static PANIC_RUNS: AtomicUsize = AtomicUsize::new(0);

    /// The first run stops at the pause and then panics; later runs succeed.
    #[cached(cache = cache("dogpile-panic"))]
    fn panics_first(n: u32) -> u32 {
        if PANIC_RUNS.fetch_add(1, SeqCst) == 0 {
            call!(rt::Pause::take_and_wait(&PANIC_PAUSE));
            panic!("the first computation fails");
        }
        n + 1
    }

    #[test]
    fn a_panic_in_the_body_wakes_the_waiters_and_one_of_them_computes() {
        const WAITERS: usize = 8;
        let cache = cache("dogpile-panic");
        let pause = rt::Pause::arm(&PANIC_PAUSE);
        let leader = spawn!({ call!(panics_first(1)) });
        wait!(pause.started);
        let waiters: Vec<_> = (0..WAITERS).map(|_| spawn!({ call!(panics_first(1)) })).collect();
        // Every waiter has missed, and the flight they join is still running.
        until!(cache.stats().misses == 1 + WAITERS as u64, "the waiters to miss");
        wait!(pause.resume);
        assert!(join!(leader).is_err(), "the leader's own call panics");
        for waiter in waiters {
            assert_eq!(join!(waiter).expect("a waiter must not panic"), 2);
        }
        assert_eq!(PANIC_RUNS.load(SeqCst), 2, "one waiter computed after the panic");
        assert_eq!(call!(panics_first(1)), 2, "the value is cached; nothing is poisoned");
        assert_eq!(PANIC_RUNS.load(SeqCst), 2);
    }

    static TIMEOUT_RUNS: AtomicUsize = AtomicUsize::new(0);
    static TIMEOUT_PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);

    #[cached(cache = cache_with("dogpile-timeout", |builder| builder.lock_timeout(Duration::from_millis(200))))]
    fn stuck_first(n: u32) -> u32 {
        TIMEOUT_RUNS.fetch_add(1, SeqCst);
        call!(rt::Pause::take_and_wait(&TIMEOUT_PAUSE));
        n
    }

    #[test]
    fn a_waiter_computes_by_itself_after_the_lock_timeout() {
        let pause = rt::Pause::arm(&TIMEOUT_PAUSE);
        let stuck = spawn!({ call!(stuck_first(3)) });
        wait!(pause.started);
        assert_eq!(call!(stuck_first(3)), 3, "the waiter gave up waiting and computed");
        assert_eq!(TIMEOUT_RUNS.load(SeqCst), 2);
        wait!(pause.resume);
        assert_eq!(join!(stuck).unwrap(), 3);
    }
}
