//! Dogpile protection: concurrent misses of one key run the body once; with
//! `lock = false` they don't; different keys never wait for each other; a
//! panicking body wakes its waiters and poisons nothing.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cachetool::cached;

const THREADS: usize = 32;
/// Bounds every wait of these tests.
const PATIENCE: Duration = Duration::from_secs(20);

// In async mode, "threads" are tasks, the barriers and gates are tokio's and
// every wait is awaited.
support::modes::for_each_mode! {
    /// Waits until `condition` holds, at most `PATIENCE`.
    #[maybe_async]
    fn eventually(what: &str, condition: impl Fn() -> bool) {
        let started = Instant::now();
        while !condition() {
            assert!(started.elapsed() < PATIENCE, "timed out waiting for {what}");
            sleep!(Duration::from_millis(2));
        }
    }

    static LOCKED_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("dogpile"))]
    fn slow_locked(n: u32) -> u32 {
        LOCKED_RUNS.fetch_add(1, SeqCst);
        sleep!(Duration::from_millis(100));
        n * 2
    }

    #[test]
    fn thirty_two_threads_on_one_cold_key_run_the_body_once() {
        let barrier = Arc::new(rt::Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                spawn!({
                    wait!(barrier);
                    call!(slow_locked(21))
                })
            })
            .collect();
        let mut results = Vec::new();
        for handle in handles {
            results.push(join!(handle).unwrap());
        }
        assert_eq!(results, vec![42; THREADS]);
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
        call!(eventually("a second concurrent body", || UNLOCKED_RUNNING.load(SeqCst) >= 2));
        n * 2
    }

    #[test]
    fn with_lock_false_concurrent_misses_each_run_the_body() {
        let barrier = Arc::new(rt::Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                spawn!({
                    wait!(barrier);
                    assert_eq!(call!(unlocked(21)), 42);
                })
            })
            .collect();
        for handle in handles {
            join!(handle).unwrap();
        }
        let runs = UNLOCKED_RUNS.load(SeqCst);
        assert!(runs >= 2, "the body ran {runs} times");
    }

    static GATE: Mutex<Option<rt::Receiver<()>>> = Mutex::new(None);
    static GATED_RUNS: AtomicUsize = AtomicUsize::new(0);

    /// Key 1 blocks until the test opens the gate; other keys return at once.
    #[cached(cache = cache("dogpile"))]
    fn gated(n: u32) -> u32 {
        GATED_RUNS.fetch_add(1, SeqCst);
        if n == 1 {
            let gate = GATE.lock().unwrap().take().expect("the gate");
            recv!(gate, PATIENCE).expect("the test opens the gate");
        }
        n
    }

    #[test]
    fn different_keys_never_wait_for_each_other() {
        let (open, gate) = rt::channel();
        *GATE.lock().unwrap() = Some(gate);
        let blocked = spawn!({ call!(gated(1)) });
        call!(eventually("the first body to start", || GATED_RUNS.load(SeqCst) == 1));
        let (done, finished) = rt::channel();
        spawn!({ done.send(call!(gated(2))).unwrap() });
        assert_eq!(recv!(finished, PATIENCE), Some(2), "key 2 finished while key 1 was still computing");
        open.send(()).unwrap();
        assert_eq!(join!(blocked).unwrap(), 1);
    }

    static PANIC_GATE: Mutex<Option<rt::Receiver<()>>> = Mutex::new(None);
    static PANIC_RUNS: AtomicUsize = AtomicUsize::new(0);

    /// The first run waits for the gate and then panics; later runs succeed.
    #[cached(cache = cache("dogpile-panic"))]
    fn panics_first(n: u32) -> u32 {
        if PANIC_RUNS.fetch_add(1, SeqCst) == 0 {
            let gate = PANIC_GATE.lock().unwrap().take().expect("the gate");
            recv!(gate, PATIENCE).expect("the test opens the gate");
            panic!("the first computation fails");
        }
        n + 1
    }

    #[test]
    fn a_panic_in_the_body_wakes_the_waiters_and_one_of_them_computes() {
        const WAITERS: usize = 8;
        let cache = cache("dogpile-panic");
        let (open, gate) = rt::channel();
        *PANIC_GATE.lock().unwrap() = Some(gate);
        let leader = spawn!({ call!(panics_first(1)) });
        call!(eventually("the first body to start", || PANIC_RUNS.load(SeqCst) == 1));
        let waiters: Vec<_> = (0..WAITERS).map(|_| spawn!({ call!(panics_first(1)) })).collect();
        // Every waiter has missed, and the flight they join is still running.
        call!(eventually("the waiters to miss", || cache.stats().misses == 1 + WAITERS as u64));
        open.send(()).unwrap();
        assert!(join!(leader).is_err(), "the leader's own call panics");
        for waiter in waiters {
            assert_eq!(join!(waiter).expect("a waiter must not panic"), 2);
        }
        assert_eq!(PANIC_RUNS.load(SeqCst), 2, "one waiter computed after the panic");
        assert_eq!(call!(panics_first(1)), 2, "the value is cached; nothing is poisoned");
        assert_eq!(PANIC_RUNS.load(SeqCst), 2);
    }

    static TIMEOUT_RUNS: AtomicUsize = AtomicUsize::new(0);
    static TIMEOUT_GATE: Mutex<Option<rt::Receiver<()>>> = Mutex::new(None);

    #[cached(cache = cache_with("dogpile-timeout", |builder| builder.lock_timeout(Duration::from_millis(200))))]
    fn stuck_first(n: u32) -> u32 {
        if TIMEOUT_RUNS.fetch_add(1, SeqCst) == 0 {
            let gate = TIMEOUT_GATE.lock().unwrap().take().expect("the gate");
            recv!(gate, PATIENCE).expect("the test opens the gate");
        }
        n
    }

    #[test]
    fn a_waiter_computes_by_itself_after_the_lock_timeout() {
        let (open, gate) = rt::channel();
        *TIMEOUT_GATE.lock().unwrap() = Some(gate);
        let stuck = spawn!({ call!(stuck_first(3)) });
        call!(eventually("the first body to start", || TIMEOUT_RUNS.load(SeqCst) == 1));
        assert_eq!(call!(stuck_first(3)), 3, "the waiter gave up waiting and computed");
        assert_eq!(TIMEOUT_RUNS.load(SeqCst), 2);
        open.send(()).unwrap();
        assert_eq!(join!(stuck).unwrap(), 3);
    }
}
