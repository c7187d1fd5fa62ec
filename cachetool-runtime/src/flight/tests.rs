//! The flights' own tests (under loom these primitives work only inside a
//! model: see `handover_loom.rs`).

use super::*;
use std::time::Duration;

fn id(name: &str) -> CallId {
    CallId {
        function: 1,
        args: xxhash_rust::xxh3::xxh3_128(name.as_bytes()),
    }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

#[test]
fn second_caller_waits_for_the_first() {
    let flights = Flights::new();
    let Joined::Leader(leader) = flights.join(id("k"), true) else {
        panic!("first caller must lead")
    };
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            let Joined::Waiter(waiter) = flights.join(id("k"), true) else {
                panic!("must wait")
            };
            match waiter.wait(soon()) {
                Waited::Value(value) => *value.downcast_ref::<u32>().unwrap(),
                _ => panic!("expected the leader's value"),
            }
        });
        // Bounded: a waiter that panicked before joining fails the test
        // instead of hanging it.
        let deadline = soon();
        while flights.joins() < 1 {
            assert!(Instant::now() < deadline, "the waiter never joined");
            assert!(!waiter.is_finished(), "the waiter ended without joining");
            std::thread::yield_now();
        }
        leader.finish(|| Some(Arc::new(7u32)));
        assert_eq!(waiter.join().unwrap(), 7);
    });
    assert!(
        matches!(flights.join(id("k"), true), Joined::Leader(_)),
        "a finished flight is gone"
    );
}

#[test]
fn the_hand_over_decides_once_no_one_can_join_and_may_abandon() {
    let flights = Flights::new();
    let Joined::Leader(leader) = flights.join(id("k"), false) else {
        panic!("first caller must lead")
    };
    let waiter = std::thread::scope(|s| s.spawn(|| flights.join(id("k"), false)).join().unwrap());
    let Joined::Waiter(waiter) = waiter else {
        panic!("must wait")
    };
    leader.finish(|| {
        // A caller arriving now starts its own flight: the decision below
        // holds for every waiter this flight will ever have.
        assert!(matches!(flights.join(id("k"), false), Joined::Leader(_)));
        None
    });
    assert!(matches!(waiter.wait(soon()), Waited::Abandoned));
}

#[test]
fn a_dropped_leader_abandons_and_a_waiter_can_time_out() {
    let flights = Flights::new();
    let leader = flights.join(id("k"), true);
    let Joined::Waiter(waiter) =
        std::thread::scope(|s| s.spawn(|| flights.join(id("k"), true)).join().unwrap())
    else {
        panic!("must wait")
    };
    let Joined::Waiter(late) =
        std::thread::scope(|s| s.spawn(|| flights.join(id("k"), true)).join().unwrap())
    else {
        panic!("must wait")
    };
    assert!(matches!(late.wait(Instant::now()), Waited::TimedOut));
    drop(leader);
    assert!(matches!(waiter.wait(soon()), Waited::Abandoned));
}

#[test]
fn the_leading_thread_is_told_it_is_reentrant() {
    let flights = Flights::new();
    let _leader = flights.join(id("k"), true);
    assert!(matches!(flights.join(id("k"), true), Joined::Reentrant));
    assert!(matches!(flights.join(id("other"), true), Joined::Leader(_)));
}
