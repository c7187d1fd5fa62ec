//! Dogpile protection: concurrent misses of one key run the body once; with
//! `lock = false` they don't; different keys never wait for each other; a
//! panicking body wakes its waiters and poisons nothing.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use cachetool::cached;

const THREADS: usize = 32;
/// Bounds every wait of these tests.
const PATIENCE: Duration = Duration::from_secs(20);

/// Waits until `condition` holds, at most `PATIENCE`.
fn eventually(what: &str, condition: impl Fn() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

support::for_each_backend! {
    static LOCKED_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("dogpile"))]
    fn slow_locked(n: u32) -> u32 {
        LOCKED_RUNS.fetch_add(1, SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        n * 2
    }

    #[test]
    fn thirty_two_threads_on_one_cold_key_run_the_body_once() {
        let barrier = Barrier::new(THREADS);
        let results: Vec<u32> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| scope.spawn(|| {
                    barrier.wait();
                    slow_locked(21)
                }))
                .collect();
            handles.into_iter().map(|handle| handle.join().unwrap()).collect()
        });
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
        eventually("a second concurrent body", || UNLOCKED_RUNNING.load(SeqCst) >= 2);
        n * 2
    }

    #[test]
    fn with_lock_false_concurrent_misses_each_run_the_body() {
        let barrier = Barrier::new(THREADS);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    barrier.wait();
                    assert_eq!(unlocked(21), 42);
                });
            }
        });
        let runs = UNLOCKED_RUNS.load(SeqCst);
        assert!(runs >= 2, "the body ran {runs} times");
    }

    static GATE: Mutex<Option<mpsc::Receiver<()>>> = Mutex::new(None);
    static GATED_RUNS: AtomicUsize = AtomicUsize::new(0);

    /// Key 1 blocks until the test opens the gate; other keys return at once.
    #[cached(cache = cache("dogpile"))]
    fn gated(n: u32) -> u32 {
        GATED_RUNS.fetch_add(1, SeqCst);
        if n == 1 {
            let gate = GATE.lock().unwrap().take().expect("the gate");
            gate.recv_timeout(PATIENCE).expect("the test opens the gate");
        }
        n
    }

    #[test]
    fn different_keys_never_wait_for_each_other() {
        let (open, gate) = mpsc::channel();
        *GATE.lock().unwrap() = Some(gate);
        std::thread::scope(|scope| {
            let blocked = scope.spawn(|| gated(1));
            eventually("the first body to start", || GATED_RUNS.load(SeqCst) == 1);
            let (done, finished) = mpsc::channel();
            scope.spawn(move || done.send(gated(2)).unwrap());
            assert_eq!(finished.recv_timeout(PATIENCE), Ok(2), "key 2 finished while key 1 was still computing");
            open.send(()).unwrap();
            assert_eq!(blocked.join().unwrap(), 1);
        });
    }

    static PANIC_GATE: Mutex<Option<mpsc::Receiver<()>>> = Mutex::new(None);
    static PANIC_RUNS: AtomicUsize = AtomicUsize::new(0);

    /// The first run waits for the gate and then panics; later runs succeed.
    #[cached(cache = cache("dogpile-panic"))]
    fn panics_first(n: u32) -> u32 {
        if PANIC_RUNS.fetch_add(1, SeqCst) == 0 {
            let gate = PANIC_GATE.lock().unwrap().take().expect("the gate");
            gate.recv_timeout(PATIENCE).expect("the test opens the gate");
            panic!("the first computation fails");
        }
        n + 1
    }

    #[test]
    fn a_panic_in_the_body_wakes_the_waiters_and_one_of_them_computes() {
        const WAITERS: usize = 8;
        let cache = cache("dogpile-panic");
        let (open, gate) = mpsc::channel();
        *PANIC_GATE.lock().unwrap() = Some(gate);
        std::thread::scope(|scope| {
            let leader = scope.spawn(|| panics_first(1));
            eventually("the first body to start", || PANIC_RUNS.load(SeqCst) == 1);
            let waiters: Vec<_> = (0..WAITERS).map(|_| scope.spawn(|| panics_first(1))).collect();
            // Every waiter has missed, and the flight they join is still running.
            eventually("the waiters to miss", || cache.stats().misses == 1 + WAITERS as u64);
            open.send(()).unwrap();
            assert!(leader.join().is_err(), "the leader's own call panics");
            for waiter in waiters {
                assert_eq!(waiter.join().expect("a waiter must not panic"), 2);
            }
        });
        assert_eq!(PANIC_RUNS.load(SeqCst), 2, "one waiter computed after the panic");
        assert_eq!(panics_first(1), 2, "the value is cached; nothing is poisoned");
        assert_eq!(PANIC_RUNS.load(SeqCst), 2);
    }

    static TIMEOUT_RUNS: AtomicUsize = AtomicUsize::new(0);
    static TIMEOUT_GATE: Mutex<Option<mpsc::Receiver<()>>> = Mutex::new(None);

    #[cached(cache = cache_with("dogpile-timeout", |builder| builder.lock_timeout(Duration::from_millis(200))))]
    fn stuck_first(n: u32) -> u32 {
        if TIMEOUT_RUNS.fetch_add(1, SeqCst) == 0 {
            let gate = TIMEOUT_GATE.lock().unwrap().take().expect("the gate");
            gate.recv_timeout(PATIENCE).expect("the test opens the gate");
        }
        n
    }

    #[test]
    fn a_waiter_computes_by_itself_after_the_lock_timeout() {
        let (open, gate) = mpsc::channel();
        *TIMEOUT_GATE.lock().unwrap() = Some(gate);
        std::thread::scope(|scope| {
            let stuck = scope.spawn(|| stuck_first(3));
            eventually("the first body to start", || TIMEOUT_RUNS.load(SeqCst) == 1);
            assert_eq!(stuck_first(3), 3, "the waiter gave up waiting and computed");
            assert_eq!(TIMEOUT_RUNS.load(SeqCst), 2);
            open.send(()).unwrap();
            assert_eq!(stuck.join().unwrap(), 3);
        });
    }
}
