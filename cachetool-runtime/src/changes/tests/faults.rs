//! What the subscriber does when things go wrong: a foreign or corrupt
//! message, a server killed and restarted, a cluster node gone, and its own
//! end when dropped.

use super::*;

#[test]
fn a_foreign_or_corrupt_message_is_told_ignored_and_counted() {
    let server = Server::start(Kind::Redis);
    let prefix = unique_prefix("corrupt");
    let listening = redis(&server.url());
    let listener = listen(&listening, &prefix);
    let mut raw = cachetool_test_harness::redis::raw_connection(&server);
    for payload in [&b"hello"[..], b"ct1 0000000000000001 999:x", b"\xff\x00ct1"] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(channel(&prefix))
            .arg(payload)
            .query(&mut raw)
            .unwrap();
    }
    // Each is told as unreadable (it may have announced any change), in
    // order on the one connection; a real change after them is heard.
    for _ in 0..3 {
        listener.expect_unreadable();
    }
    listener.hears_a_clean_through(&server.url(), &prefix);
    assert_eq!(listener.subscription.ignored(), 3);
}

#[test]
fn a_killed_server_is_lost_and_its_restart_heard_again() {
    let mut server = Server::start(Kind::Redis);
    let prefix = unique_prefix("restart");
    let listening = redis(&server.url());
    let listener = listen(&listening, &prefix);
    server.stop();
    listener.expect_lost();
    server.restart();
    listener.expect_listening();
    // A change after the restart arrives (made through a backend opened
    // now: no connection of it met the old server).
    listener.hears_a_clean_through(&server.url(), &prefix);
}

#[test]
fn a_cluster_node_gone_is_lost_then_another_node_listens() {
    let mut cluster = Cluster::start();
    let prefix = unique_prefix("node");
    let listening = redis(&cluster.url());
    let listener = listen(&listening, &prefix);
    // The first node of the URL is the one subscribed to.
    cluster.nodes[0].stop();
    listener.expect_lost();
    listener.expect_listening();
    assert!(!listener.subscription.is_finished());
}

#[test]
fn the_thread_ends_when_the_subscription_is_dropped() {
    let server = Server::start(Kind::Redis);
    let listening = redis(&server.url());
    let Listener {
        events,
        subscription,
    } = listen(&listening, &unique_prefix("drop"));
    drop(subscription);
    // The handler (and its sender) goes with the thread: the queue closes.
    let deadline = Instant::now() + WAIT;
    loop {
        match events.recv_timeout(WAIT) {
            Ok(Heard::Lost) => continue,
            Ok(other) => panic!("heard {other:?} after the drop"),
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("the thread still runs after {WAIT:?}"),
        }
    }
    assert!(Instant::now() < deadline + WAIT);
}
