//! No stale read after an invalidation: a value whose computation started
//! before `foo_invalidate`, `clean` or `clean_all` returned is never served
//! after it returned. Barriers force the interleaving.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex};

use cachetool::cached;

/// The two rendezvous of a body with the test: "I have read the data" and
/// "you may return now".
#[derive(Clone)]
struct Pause {
    started: Arc<Barrier>,
    resume: Arc<Barrier>,
}

impl Pause {
    fn new() -> Pause {
        Pause {
            started: Arc::new(Barrier::new(2)),
            resume: Arc::new(Barrier::new(2)),
        }
    }
}

/// Runs `call` on another thread with `pause` armed, runs `invalidate` while
/// the body is between reading its data and returning, then lets it finish.
fn race(
    slot: &Mutex<Option<Pause>>,
    call: impl FnOnce() -> String + Send,
    invalidate: impl FnOnce(),
) -> String {
    let pause = Pause::new();
    *slot.lock().unwrap() = Some(pause.clone());
    std::thread::scope(|scope| {
        let computing = scope.spawn(call);
        pause.started.wait();
        invalidate();
        pause.resume.wait();
        computing.join().unwrap()
    })
}

support::for_each_backend! {
    static DATA: AtomicUsize = AtomicUsize::new(0);
    static PAUSE: Mutex<Option<Pause>> = Mutex::new(None);

    /// Reads DATA, then (when armed) waits for the test before returning it.
    fn read_data(label: &str) -> String {
        let value = format!("{label}{}", DATA.load(SeqCst));
        if let Some(pause) = PAUSE.lock().unwrap().take() {
            pause.started.wait();
            pause.resume.wait();
        }
        value
    }

    #[cached(cache = cache("race-invalidate"))]
    fn by_key(n: u32) -> String {
        read_data(&format!("{n}:"))
    }

    #[test]
    fn invalidate_beats_an_in_flight_computation() {
        let stale = race(&PAUSE, || by_key(1), || {
            DATA.fetch_add(1, SeqCst);
            by_key_invalidate(1).expect("invalidate");
        });
        assert_eq!(stale, "1:0", "the racing call itself returns what its body computed");
        assert_eq!(by_key(1), "1:1", "but it was not stored over the invalidation");
        assert_eq!(by_key(1), "1:1");
    }

    static TAG_DATA: AtomicUsize = AtomicUsize::new(0);
    static TAG_PAUSE: Mutex<Option<Pause>> = Mutex::new(None);

    #[cached(cache = cache("race-clean"), tags = ["race"])]
    fn by_tag(n: u32) -> String {
        let value = format!("{n}:{}", TAG_DATA.load(SeqCst));
        if let Some(pause) = TAG_PAUSE.lock().unwrap().take() {
            pause.started.wait();
            pause.resume.wait();
        }
        value
    }

    #[test]
    fn clean_beats_an_in_flight_computation() {
        let stale = race(&TAG_PAUSE, || by_tag(1), || {
            TAG_DATA.fetch_add(1, SeqCst);
            cache("race-clean").clean(&["race"]).expect("clean");
        });
        assert_eq!(stale, "1:0");
        assert_eq!(by_tag(1), "1:1");
    }

    static EPOCH_DATA: AtomicUsize = AtomicUsize::new(0);
    static EPOCH_PAUSE: Mutex<Option<Pause>> = Mutex::new(None);

    #[cached(cache = cache("race-clean-all"))]
    fn by_epoch(n: u32) -> String {
        let value = format!("{n}:{}", EPOCH_DATA.load(SeqCst));
        if let Some(pause) = EPOCH_PAUSE.lock().unwrap().take() {
            pause.started.wait();
            pause.resume.wait();
        }
        value
    }

    #[test]
    fn clean_all_beats_an_in_flight_computation() {
        let stale = race(&EPOCH_PAUSE, || by_epoch(1), || {
            EPOCH_DATA.fetch_add(1, SeqCst);
            cache("race-clean-all").clean_all().expect("clean_all");
        });
        assert_eq!(stale, "1:0");
        assert_eq!(by_epoch(1), "1:1");
    }

    static REFRESH_DATA: AtomicUsize = AtomicUsize::new(0);
    static REFRESH_PAUSE: Mutex<Option<Pause>> = Mutex::new(None);

    #[cached(cache = cache("race-refresh"))]
    fn refreshed(n: u32) -> String {
        let value = format!("{n}:{}", REFRESH_DATA.load(SeqCst));
        if let Some(pause) = REFRESH_PAUSE.lock().unwrap().take() {
            pause.started.wait();
            pause.resume.wait();
        }
        value
    }

    #[test]
    fn invalidate_beats_an_in_flight_refresh() {
        assert_eq!(refreshed(1), "1:0");
        let stale = race(&REFRESH_PAUSE, || refreshed_refresh(1), || {
            REFRESH_DATA.fetch_add(1, SeqCst);
            refreshed_invalidate(1).expect("invalidate");
        });
        assert_eq!(stale, "1:0");
        assert_eq!(refreshed(1), "1:1");
    }
}
