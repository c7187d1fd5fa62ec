//! The change channel against real servers (the harness's): every kind of
//! change made through one backend arrives at a subscriber of another, on
//! one Redis, on a 3-node cluster, on TLS, and from Memcached through a
//! Redis backplane; a foreign message is ignored; a killed server is
//! reported `Lost`, its restart `Listening`; the thread ends when dropped.
//! Every wait is a bounded wait for an event.
//!
//! - `modes.rs`: changes made by sync or by async calls;
//! - `arrival.rs`: every kind of change arrives, on every server;
//! - `faults.rs`: foreign messages, a server gone, the subscription dropped.

use std::sync::mpsc::{channel as queue, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachetool_test_harness::cluster::Cluster;
use cachetool_test_harness::{Kind, Server};

use super::*;

mod arrival;
mod faults;
mod modes;

use crate::backend::{ConnectOptions, ReplaceIf, Value};
use crate::call::Request;
use crate::key::{CallId, KeyPart, Site};
use crate::local::tag_hash;
use crate::{Cache, RedisBackend};
use modes::{Mode, MODES};

/// The longest wait for one event: far more than a loaded machine needs
/// (a change arrives in well under a millisecond on loopback; a reconnect
/// waits out the backoff, at most 5 s); a passing test never waits it out.
const WAIT: Duration = Duration::from_secs(20);

fn marker() -> &'static str {
    "app::changes_test::load::__cachetool_site"
}
static SITE: Site = Site::new(marker, "", None, 0, true);

/// What a test's handler heard, in order.
#[derive(Debug)]
enum Heard {
    Listening,
    Lost,
    Changed(Message),
    Unreadable,
}

/// A subscription whose handler queues what it hears.
struct Listener {
    events: Receiver<Heard>,
    subscription: Subscription,
}

fn listen(backend: &dyn Backend, prefix: &str) -> Listener {
    let (sender, events) = queue();
    let handler: Handler = Box::new(move |event: Event<'_>| {
        let heard = match event {
            Event::Listening => Heard::Listening,
            Event::Lost => Heard::Lost,
            Event::Changed(message) => Heard::Changed(message.clone()),
            Event::Unreadable => Heard::Unreadable,
        };
        let _ = sender.send(heard);
    });
    let subscription = subscribe(backend, prefix, handler)
        .expect("the backend has a channel")
        .expect("the thread starts");
    let listener = Listener {
        events,
        subscription,
    };
    listener.expect_listening();
    listener
}

impl Listener {
    /// A clean made through a backend opened now on `url` is the next
    /// change heard (after whatever it ignored).
    fn hears_a_clean_through(&self, url: &str, prefix: &str) {
        let writer: Arc<dyn Backend> = Arc::new(redis(url));
        cache_on(&writer, prefix).clean(&["t"]).unwrap();
        let changes = self.changes(1, origin_of(&*writer).unwrap());
        assert!(matches!(changes[0], Change::Tag { .. }), "{changes:?}");
    }

    fn next(&self) -> Heard {
        match self.events.recv_timeout(WAIT) {
            Ok(heard) => heard,
            Err(error) => panic!("nothing heard within {WAIT:?}: {error}"),
        }
    }

    fn expect_listening(&self) {
        match self.next() {
            Heard::Listening => {}
            other => panic!("expected Listening, heard {other:?}"),
        }
    }

    fn expect_lost(&self) {
        match self.next() {
            Heard::Lost => {}
            other => panic!("expected Lost, heard {other:?}"),
        }
    }

    fn expect_unreadable(&self) {
        match self.next() {
            Heard::Unreadable => {}
            other => panic!("expected Unreadable, heard {other:?}"),
        }
    }

    fn change(&self) -> Message {
        match self.next() {
            Heard::Changed(message) => message,
            other => panic!("expected a change, heard {other:?}"),
        }
    }

    /// The changes of the next messages, until `count` changes were heard.
    fn changes(&self, count: usize, origin: u64) -> Vec<Change> {
        self.messages(count, origin).1
    }

    /// How many messages it took to hear `count` changes, and the changes.
    fn messages(&self, count: usize, origin: u64) -> (usize, Vec<Change>) {
        let mut changes = Vec::new();
        let mut messages = 0;
        while changes.len() < count {
            let message = self.change();
            assert_eq!(message.origin, origin, "{message:?}");
            changes.extend(message.changes);
            messages += 1;
        }
        assert_eq!(changes.len(), count, "{changes:?}");
        (messages, changes)
    }
}

/// A cache of `prefix` on `backend`.
fn cache_on(backend: &Arc<dyn Backend>, prefix: &str) -> Cache {
    Cache::builder()
        .backend(Arc::clone(backend))
        .prefix(prefix)
        .build()
        .unwrap()
}

fn unique_prefix(name: &str) -> String {
    format!("{name}{}", fastrand::u32(..))
}

fn redis(url: &str) -> RedisBackend {
    RedisBackend::open(url, &ConnectOptions::default()).unwrap()
}

fn is_entry_of(change: &Change, call: CallId) -> bool {
    matches!(change, Change::Entry(calls) if calls.contains(&call))
}
