//! `foo_many(items)`: the function for each item (its key arguments, a tuple
//! where there are several), in order; hits read at once, misses computed one
//! by one under their own dogpile protection, their values stored together
//! after the last (on a remote backend) with each store's guarantees: an
//! invalidation that overtakes a computation keeps its value out, and a call
//! of the same key waits for it; the arguments out of the key taken once.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::Duration;

use cachetool::cached;

/// Bounds every wait of these tests.
const PATIENCE: Duration = Duration::from_secs(30);

support::modes::for_each_mode! {
    static USER_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("many"), tags = [format!("user:{id}")])]
    fn user(id: u64) -> String {
        USER_RUNS.fetch_add(1, SeqCst);
        format!("user {id}")
    }

    #[test]
    fn values_come_in_order_and_only_misses_run() {
        assert_eq!(call!(user(2)), "user 2");
        assert_eq!(call!(user_many([1, 2, 3])), ["user 1", "user 2", "user 3"]);
        assert_eq!(USER_RUNS.load(SeqCst), 3, "2 was a hit");
        assert_eq!(call!(user_many(vec![3, 1, 2])), ["user 3", "user 1", "user 2"]);
        assert_eq!(USER_RUNS.load(SeqCst), 3, "all hits");
        // Each miss was stored as a single call's would be.
        assert_eq!(call!(user(1)), "user 1");
        assert_eq!(USER_RUNS.load(SeqCst), 3);
        // Tags per item, from its own arguments.
        clean!(cache("many"), &["user:3"]).expect("clean");
        assert_eq!(call!(user_many([1, 3])), ["user 1", "user 3"]);
        assert_eq!(USER_RUNS.load(SeqCst), 4);
        assert_eq!(call!(user_many(Vec::<u64>::new())), Vec::<String>::new());
    }

    static SAME_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("many"))]
    fn same(id: u64) -> u64 {
        SAME_RUNS.fetch_add(1, SeqCst);
        id
    }

    #[test]
    fn an_item_repeated_is_computed_once() {
        assert_eq!(call!(same_many([5, 5, 5])), [5, 5, 5]);
        assert_eq!(SAME_RUNS.load(SeqCst), 1);
    }

    #[cached(cache = cache("many-stats"))]
    fn counted(id: u64) -> u64 {
        id
    }

    #[test]
    fn each_item_counts_as_a_hit_or_a_miss() {
        let cache = cache("many-stats");
        call!(counted_many([1, 2]));
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.loads), (0, 2, 2));
        call!(counted_many([1, 2, 3]));
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.loads), (2, 3, 3));
    }

    struct Db {
        reads: AtomicUsize,
    }

    #[cached(cache = cache("many"), skip(db))]
    fn row(db: &Db, table: String, id: u64) -> String {
        db.reads.fetch_add(1, SeqCst);
        format!("{table}/{id}")
    }

    #[test]
    fn several_key_arguments_come_as_tuples_and_skipped_ones_once() {
        let db = Db { reads: AtomicUsize::new(0) };
        let rows = call!(row_many(&db, [("a".to_string(), 1), ("b".to_string(), 1), ("a".to_string(), 1)]));
        assert_eq!(rows, ["a/1", "b/1", "a/1"]);
        assert_eq!(db.reads.load(SeqCst), 2);
        assert_eq!(call!(row(&db, "b".to_string(), 1)), "b/1");
        assert_eq!(db.reads.load(SeqCst), 2);
    }

    struct Conn {
        calls: u64,
    }

    #[cached(cache = cache("many"), skip(conn))]
    fn next(conn: &mut Conn, id: u64) -> u64 {
        conn.calls += 1;
        id * 100 + conn.calls
    }

    #[test]
    fn a_mut_argument_out_of_the_key_is_lent_to_each_miss_in_turn() {
        let mut conn = Conn { calls: 0 };
        assert_eq!(call!(next_many(&mut conn, [1, 2])), [101, 202]);
        assert_eq!(call!(next_many(&mut conn, [2, 3])), [202, 303]);
        assert_eq!(conn.calls, 3);
    }

    static PARSE_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = cache("many"))]
    fn parse(text: &str) -> Result<u32, String> {
        PARSE_RUNS.fetch_add(1, SeqCst);
        text.parse().map_err(|_| format!("not a number: {text}"))
    }

    #[test]
    fn errors_come_in_place_and_are_not_stored() {
        let parsed = call!(parse_many(["1", "x", "2"]));
        assert_eq!(parsed, [Ok(1), Err("not a number: x".to_string()), Ok(2)]);
        let parsed = call!(parse_many(["x", "1"]));
        assert_eq!(parsed, [Err("not a number: x".to_string()), Ok(1)]);
        assert_eq!(PARSE_RUNS.load(SeqCst), 4);
    }

    static PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);
    static GATED_RUNS: AtomicUsize = AtomicUsize::new(0);
    static SECOND_RUNS: AtomicUsize = AtomicUsize::new(0);

    /// Key 1 stops at the pause until the test lets it go; other keys return at once.
    #[cached(cache = cache("many"))]
    fn gated(n: u64) -> u64 {
        if n == 1 {
            GATED_RUNS.fetch_add(1, SeqCst);
            call!(rt::Pause::take_and_wait(&PAUSE));
        } else {
            SECOND_RUNS.fetch_add(1, SeqCst);
        }
        n * 3
    }

    #[test]
    fn a_miss_waits_for_the_computation_of_another_caller() {
        let pause = rt::Pause::arm(&PAUSE);
        let single = spawn!({ call!(gated(1)) });
        wait!(pause.started);
        // Item 2 first: once both bodies ran, key 1 is being computed by one
        // caller (until the test lets it go) and the other comes to it with its
        // lookup done: it must wait for that computation (or, if it comes
        // late, take the stored value), never run the body again.
        let batch = spawn!({ call!(gated_many([2, 1])) });
        until!(SECOND_RUNS.load(SeqCst) == 1, "the batch's first body ran");
        wait!(pause.resume);
        assert_eq!(join!(single).unwrap(), 3);
        assert_eq!(join!(batch).unwrap(), [6, 3]);
        assert_eq!(GATED_RUNS.load(SeqCst), 1);
    }

    // Tests run at once: each has keys of its own, with their data and pauses.
    static RACE_DATA: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
    static RACE_PAUSES: [Mutex<Option<rt::Pause>>; 8] = [const { Mutex::new(None) }; 8];

    /// Reads its key's data, then (when armed) waits for the test.
    #[cached(cache = cache("many-race"), name = "many-race")]
    fn raced(n: usize) -> String {
        let value = format!("{n}:{}", RACE_DATA[n].load(SeqCst));
        call!(rt::Pause::take_and_wait(&RACE_PAUSES[n]));
        value
    }

    /// `raced`'s entries from a second cache on the same backend and prefix:
    /// what another process's invalidation is (this cache never counts it).
    #[cached(cache = twin_cache("many-race"), name = "many-race")]
    fn remote(n: usize) -> String {
        format!("{n}:not called in these tests")
    }

    #[test]
    fn an_invalidation_that_overtakes_an_items_computation_keeps_it_out() {
        let pause = rt::Pause::arm(&RACE_PAUSES[1]);
        let batch = spawn!({ call!(raced_many([1, 2])) });
        wait!(pause.started);
        RACE_DATA[1].fetch_add(1, SeqCst);
        call!(raced_invalidate(1)).expect("invalidate");
        wait!(pause.resume);
        assert_eq!(join!(batch).unwrap(), ["1:0", "2:0"], "what the bodies computed");
        assert_eq!(call!(raced(1)), "1:1", "not stored over the invalidation");
        assert_eq!(call!(raced(2)), "2:0", "the other item was stored");
    }

    #[test]
    fn an_invalidation_while_a_later_item_computes_keeps_an_earlier_one_out() {
        // Item 3 is computed (on a remote backend, its store held back) when
        // item 4's body lets the test invalidate 3.
        let pause = rt::Pause::arm(&RACE_PAUSES[4]);
        let batch = spawn!({ call!(raced_many([3, 4])) });
        wait!(pause.started);
        RACE_DATA[3].fetch_add(1, SeqCst);
        call!(raced_invalidate(3)).expect("invalidate");
        wait!(pause.resume);
        assert_eq!(join!(batch).unwrap(), ["3:0", "4:0"]);
        assert_eq!(call!(raced(3)), "3:1", "not stored over the invalidation");
        assert_eq!(call!(raced(4)), "4:0");
    }

    #[test]
    fn another_caches_invalidation_while_a_later_item_computes_keeps_an_earlier_one_out() {
        // Only the backend's compare-and-set knows of it.
        let pause = rt::Pause::arm(&RACE_PAUSES[6]);
        let batch = spawn!({ call!(raced_many([5, 6])) });
        wait!(pause.started);
        RACE_DATA[5].fetch_add(1, SeqCst);
        call!(remote_invalidate(5)).expect("invalidate");
        wait!(pause.resume);
        assert_eq!(join!(batch).unwrap(), ["5:0", "6:0"]);
        assert_eq!(call!(raced(5)), "5:1", "not stored over the invalidation");
        assert_eq!(call!(raced(6)), "6:0");
    }

    static PAIRED_RUNS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
    static PAIRED_PAUSE: Mutex<Option<rt::Pause>> = Mutex::new(None);

    #[cached(cache = cache("many-paired"))]
    fn paired(n: usize) -> usize {
        PAIRED_RUNS[n].fetch_add(1, SeqCst);
        if n == 2 {
            call!(rt::Pause::take_and_wait(&PAIRED_PAUSE));
        }
        n * 7
    }

    #[test]
    fn a_call_of_a_key_a_many_computed_waits_for_it_and_is_handed_its_value() {
        let cache = cache("many-paired");
        let pause = rt::Pause::arm(&PAIRED_PAUSE);
        let batch = spawn!({ call!(paired_many([1, 2])) });
        // Key 1 is computed; on a remote backend its store (and its lock, its
        // flight) are held until the batch's writes, after key 2.
        wait!(pause.started);
        let joins = cache.__flight_joins();
        let single = spawn!({ call!(paired(1)) });
        // The call of 1 waits for the batch's computation of it (in memory,
        // 1 is stored already, and the call is a hit).
        until!(
            cache.__flight_joins() > joins || call!(paired_peek(1)).is_some(),
            "the call of 1 waits for the batch, or 1 is stored"
        );
        wait!(pause.resume);
        assert_eq!(join!(batch).unwrap(), [7, 14]);
        assert_eq!(join!(single).unwrap(), 7);
        assert_eq!(PAIRED_RUNS[1].load(SeqCst), 1, "the body of 1 ran once");
        assert_eq!(call!(paired(1)), 7);
        assert_eq!(PAIRED_RUNS[1].load(SeqCst), 1, "and its value was stored");
    }

    static REENTER_RUNS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

    /// Item 1 calls itself once with its own key; item 2 calls item 1's key,
    /// whose flight (and, remotely, its store) the batch still holds.
    #[cached(cache = cache_with("many-reenter", |builder| builder.lock_timeout(PATIENCE)))]
    fn reenter(n: usize) -> usize {
        let runs = REENTER_RUNS[n].fetch_add(1, SeqCst);
        match (n, runs) {
            (1, 0) => call!(reenter(1)),
            (2, _) => call!(reenter(1)) * 10,
            _ => n,
        }
    }

    #[test]
    fn a_body_calling_its_own_or_an_earlier_items_key_does_not_wait_for_itself() {
        let cache = cache_with("many-reenter", |builder| builder.lock_timeout(PATIENCE));
        let joins = cache.__flight_joins();
        assert_eq!(call!(reenter_many([1, 2])), [1, 10]);
        // A wait for its own batch would have joined a flight (and lasted
        // the lock timeout): the inner calls are re-entrant instead (computed
        // again where the batch still holds 1's store; a hit in memory).
        assert_eq!(cache.__flight_joins(), joins, "no call waited for the batch");
        assert!(REENTER_RUNS[1].load(SeqCst) >= 2, "1 and its re-entrant call");
        assert_eq!(REENTER_RUNS[2].load(SeqCst), 1);
    }
}
