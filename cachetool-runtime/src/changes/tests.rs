//! The change channel against real servers (the harness's): every kind of
//! change made through one backend arrives at a subscriber of another, on
//! one Redis, on a 3-node cluster, on TLS, and from Memcached through a
//! Redis backplane; a foreign message is ignored; a killed server is
//! reported `Lost`, its restart `Listening`; the thread ends when dropped.
//! Every wait is a bounded wait for an event.

use std::sync::mpsc::{channel as queue, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachetool_test_harness::cluster::Cluster;
use cachetool_test_harness::{Kind, Server};

use super::*;
use crate::backend::{ConnectOptions, ReplaceIf, Value};
use crate::call::Request;
use crate::key::{CallId, KeyPart, Site};
use crate::local::tag_hash;
use crate::{Cache, RedisBackend};

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

fn unique_prefix(name: &str) -> String {
    format!("{name}{}", fastrand::u32(..))
}

fn redis(url: &str) -> RedisBackend {
    RedisBackend::open(url, &ConnectOptions::default()).unwrap()
}

fn is_entry_of(change: &Change, call: CallId) -> bool {
    matches!(change, Change::Entry(calls) if calls.contains(&call))
}

/// How a test makes its changes: the blocking calls, or the async ones
/// (which go through the Redis backend's own async connection).
#[derive(Debug, Clone, Copy)]
enum Mode {
    Sync,
    #[cfg(feature = "tokio")]
    Async,
}

const MODES: &[Mode] = &[
    Mode::Sync,
    #[cfg(feature = "tokio")]
    Mode::Async,
];

impl Mode {
    #[cfg(feature = "tokio")]
    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn store(self, request: Request<'_>) -> u64 {
        match self {
            Mode::Sync => request.get_or_compute(|| 7_u64),
            #[cfg(feature = "tokio")]
            Mode::Async => Mode::block_on(request.get_or_compute_async(async { 7_u64 })),
        }
    }

    fn invalidate(self, request: Request<'_>) -> crate::Result<()> {
        match self {
            Mode::Sync => request.invalidate(),
            #[cfg(feature = "tokio")]
            Mode::Async => Mode::block_on(request.invalidate_async()),
        }
    }

    fn clean(self, cache: &Cache, tags: &[&str]) -> crate::Result<()> {
        match self {
            Mode::Sync => cache.clean(tags),
            #[cfg(feature = "tokio")]
            Mode::Async => Mode::block_on(cache.clean_async(tags)),
        }
    }

    fn clean_all(self, cache: &Cache) -> crate::Result<()> {
        match self {
            Mode::Sync => cache.clean_all(),
            #[cfg(feature = "tokio")]
            Mode::Async => Mode::block_on(cache.clean_all_async()),
        }
    }

    fn replace_if_many(
        self,
        backend: &dyn Backend,
        writes: Vec<ReplaceIf<'_>>,
    ) -> Vec<crate::Result<bool>> {
        match (self, backend.as_async()) {
            #[cfg(feature = "tokio")]
            (Mode::Async, Some(backend)) => Mode::block_on(backend.replace_if_many(writes)),
            _ => backend.replace_if_many(writes),
        }
    }
}

/// Makes each kind of change through `writer`, in each mode, and checks that
/// a subscriber through another backend hears each as what it is, from
/// `writer`'s origin. `many_messages`: how many messages announce the two
/// stores of one `replace_if_many` (one per round trip, except on a cluster).
fn every_change_kind_arrives(
    writer: Arc<dyn Backend>,
    listening: &dyn Backend,
    many_messages: usize,
) {
    for &mode in MODES {
        every_change_kind_arrives_in(mode, writer.clone(), listening, many_messages);
    }
}

fn every_change_kind_arrives_in(
    mode: Mode,
    writer: Arc<dyn Backend>,
    listening: &dyn Backend,
    many_messages: usize,
) {
    let prefix = unique_prefix("changes");
    let origin = origin_of(&*writer).expect("the writer announces its changes");
    assert_ne!(
        Some(origin),
        origin_of(listening),
        "each backend has its own id"
    );
    let listener = listen(listening, &prefix);
    let cache = Cache::builder()
        .backend(writer.clone())
        .prefix(&prefix)
        .build()
        .unwrap();
    let part = KeyPart::Hash(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
    let call = CallId::new(&SITE, None, &[], &part).unwrap();
    let request = || Request::new(&cache, &SITE, None, &[], part.clone(), &["t"], None);

    // An entry stored (the compare-and-set of a miss): one change, the call.
    assert_eq!(mode.store(request()), 7);
    let changes = listener.changes(1, origin);
    assert!(is_entry_of(&changes[0], call), "{mode:?}: {changes:?}");

    // An entry invalidated (a tombstone set).
    mode.invalidate(request()).unwrap();
    let changes = listener.changes(1, origin);
    assert!(is_entry_of(&changes[0], call), "{mode:?}: {changes:?}");

    // A compare-and-set that does not store (the key holds a value, not
    // nothing) announces nothing: the next message is the clean's.
    let entry_key = crate::key::Namespace::new(&prefix).entry_key(SITE.path(), None, &[], &part);
    let value = Value::from(b"not stored".to_vec());
    assert!(!writer
        .replace_if(&entry_key, None, value, None, None)
        .unwrap());

    // A tag cleaned: its version deleted.
    mode.clean(&cache, &["t"]).unwrap();
    let changes = listener.changes(1, origin);
    assert_eq!(
        changes,
        [Change::Tag {
            tag: tag_hash("t"),
            version: None
        }],
        "{mode:?}"
    );

    // The namespace cleaned: a new epoch, carried in the message.
    mode.clean_all(&cache).unwrap();
    let changes = listener.changes(1, origin);
    assert!(
        matches!(&changes[0], Change::Epoch { version: Some(version) } if !version.is_empty()),
        "{mode:?}: {changes:?}"
    );

    // Two entries stored by one `replace_if_many`: both heard, in one
    // message (on a cluster, one from each store's script).
    let keys = [format!("{prefix}:entry:f:a"), format!("{prefix}:entry:f:b")];
    let writes = keys
        .iter()
        .map(|key| ReplaceIf::new(key, None, Value::from(b"x".to_vec()), None, None))
        .collect();
    // (On a cluster whose node lacks the script, a store made before the
    // pipeline failed on `NOSCRIPT` answers "not stored" when sent again:
    // see `backend/redis/batch.rs`. Stored once, it was announced once.)
    let stored = mode.replace_if_many(&*writer, writes);
    assert!(stored.iter().all(Result::is_ok), "{stored:?}");
    let (messages, changes) = listener.messages(2, origin);
    assert_eq!(messages, many_messages, "{mode:?}: {changes:?}");
    let function = xxhash_rust::xxh3::xxh3_64(b"f");
    for part in ["a", "b"] {
        let call = CallId {
            function,
            args: xxhash_rust::xxh3::xxh3_128(part.as_bytes()),
        };
        assert!(
            changes.iter().any(|change| is_entry_of(change, call)),
            "{changes:?}"
        );
    }

    // Nothing else was published: no lock, no version created on a miss.
    assert!(
        matches!(
            listener.events.try_recv(),
            Err(std::sync::mpsc::TryRecvError::Empty)
        ),
        "an unexpected event"
    );
    assert_eq!(listener.subscription.ignored(), 0);
}

#[test]
fn every_change_on_one_redis_arrives_at_another_backend() {
    let server = Server::start(Kind::Redis);
    let writer = Arc::new(redis(&server.url()));
    every_change_kind_arrives(writer, &redis(&server.url()), 1);
}

#[test]
fn every_change_on_a_cluster_arrives_at_another_backend() {
    let cluster = Cluster::start();
    let writer = Arc::new(redis(&cluster.url()));
    every_change_kind_arrives(writer, &redis(&cluster.url()), 2);
}

#[cfg(feature = "memcached")]
#[test]
fn every_change_on_memcached_arrives_through_its_backplane() {
    use crate::MemcachedBackend;
    let memcached = Server::start(Kind::Memcached);
    let backplane = Server::start(Kind::Redis);
    let open = || {
        MemcachedBackend::open(&memcached.url(), &ConnectOptions::default())
            .unwrap()
            .with_backplane(&backplane.url())
            .unwrap()
    };
    every_change_kind_arrives(Arc::new(open()), &open(), 1);
    // Without a backplane there is no channel: nothing to subscribe to, and
    // changes publish nothing.
    let alone = MemcachedBackend::open(&memcached.url(), &ConnectOptions::default()).unwrap();
    assert!(subscribe(&alone, "p", Box::new(|_| {})).is_none());
    assert_eq!(origin_of(&alone), None);
}

#[cfg(feature = "redis-tls")]
#[test]
fn a_tls_server_is_subscribed_to_as_the_backend_connects() {
    let (_server, tls_port, _certificates) =
        cachetool_test_harness::tls::redis_server("changes-tls", &[]);
    let url = format!("rediss://127.0.0.1:{tls_port}/#insecure");
    let prefix = unique_prefix("tls");
    let listening = redis(&url);
    let listener = listen(&listening, &prefix);
    let writer: Arc<dyn Backend> = Arc::new(redis(&url));
    let cache = Cache::builder()
        .backend(writer.clone())
        .prefix(&prefix)
        .build()
        .unwrap();
    cache.clean(&["t"]).unwrap();
    let changes = listener.changes(1, origin_of(&*writer).unwrap());
    assert!(matches!(changes[0], Change::Tag { .. }), "{changes:?}");
}

#[test]
fn a_foreign_or_corrupt_message_is_ignored_and_counted() {
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
    // A real change after them: the next thing heard, the others ignored
    // (they reached the subscriber first, on the same connection).
    let writer: Arc<dyn Backend> = Arc::new(redis(&server.url()));
    let cache = Cache::builder()
        .backend(writer.clone())
        .prefix(&prefix)
        .build()
        .unwrap();
    cache.clean(&["t"]).unwrap();
    let changes = listener.changes(1, origin_of(&*writer).unwrap());
    assert!(matches!(changes[0], Change::Tag { .. }), "{changes:?}");
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
    let writer: Arc<dyn Backend> = Arc::new(redis(&server.url()));
    let cache = Cache::builder()
        .backend(writer.clone())
        .prefix(&prefix)
        .build()
        .unwrap();
    cache.clean(&["t"]).unwrap();
    let changes = listener.changes(1, origin_of(&*writer).unwrap());
    assert!(matches!(changes[0], Change::Tag { .. }), "{changes:?}");
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

#[test]
fn a_backends_own_changes_carry_its_own_id() {
    let server = Server::start(Kind::Redis);
    let prefix = unique_prefix("own");
    let backend: Arc<dyn Backend> = Arc::new(redis(&server.url()));
    let other = redis(&server.url());
    let listener = listen(&*backend, &prefix);
    let cache = Cache::builder()
        .backend(backend.clone())
        .prefix(&prefix)
        .build()
        .unwrap();
    cache.clean(&["t"]).unwrap();
    let message = listener.change();
    assert_eq!(Some(message.origin), origin_of(&*backend), "its own");
    assert_ne!(Some(message.origin), origin_of(&other));
}

#[test]
fn a_clean_of_thousands_of_tags_is_one_message() {
    // More keys than one `DEL` of the script takes at once (Lua's stack).
    let server = Server::start(Kind::Redis);
    let prefix = unique_prefix("many");
    let listening = redis(&server.url());
    let listener = listen(&listening, &prefix);
    let writer: Arc<dyn Backend> = Arc::new(redis(&server.url()));
    let cache = Cache::builder()
        .backend(writer.clone())
        .prefix(&prefix)
        .build()
        .unwrap();
    let tags: Vec<String> = (0..2500).map(|n| format!("tag{n}")).collect();
    let mut raw = cachetool_test_harness::redis::raw_connection(&server);
    let last = format!("{prefix}:tag:tag2499");
    let _: () = redis::cmd("SET")
        .arg(&last)
        .arg("1")
        .query(&mut raw)
        .unwrap();
    cache.clean(&tags).unwrap();
    let exists: i64 = redis::cmd("EXISTS").arg(&last).query(&mut raw).unwrap();
    assert_eq!(exists, 0, "the last key, past the first 1,000, deleted");
    let (messages, changes) = listener.messages(2500, origin_of(&*writer).unwrap());
    assert_eq!(messages, 1);
    assert_eq!(
        changes[2499],
        Change::Tag {
            tag: tag_hash("tag2499"),
            version: None
        }
    );
}

#[test]
fn a_user_refused_the_channel_still_writes() {
    // Redis 7 gives a new user no channel (`resetchannels`) unless told.
    let server = Server::start(Kind::Redis);
    let mut raw = cachetool_test_harness::redis::raw_connection(&server);
    let _: () = redis::cmd("ACL")
        .arg(
            &[
                "SETUSER",
                "nochannel",
                "on",
                ">pw",
                "~*",
                "+@all",
                "resetchannels",
            ][..],
        )
        .query(&mut raw)
        .unwrap();
    let url = format!("redis://nochannel:pw@127.0.0.1:{}/", server.port());
    let writer: Arc<dyn Backend> = Arc::new(redis(&url));
    let prefix = unique_prefix("acl");
    let refused: redis::RedisResult<i64> = redis::cmd("PUBLISH")
        .arg(channel(&prefix))
        .arg("x")
        .query(&mut cachetool_test_harness::redis::connect(&url));
    assert!(refused.is_err(), "the user may not publish: {refused:?}");
    let cache = Cache::builder()
        .backend(writer.clone())
        .prefix(&prefix)
        .build()
        .unwrap();
    let part = KeyPart::Hash(1);
    let request = || Request::new(&cache, &SITE, None, &[], part.clone(), &["t"], None);
    for &mode in MODES {
        assert_eq!(mode.store(request()), 7);
        mode.invalidate(request()).unwrap();
        mode.clean(&cache, &["t"]).unwrap();
        mode.clean_all(&cache).unwrap();
        let key = format!("{prefix}:entry:f:{mode:?}");
        let write = ReplaceIf::new(&key, None, Value::from(b"x".to_vec()), None, None);
        let stored = mode.replace_if_many(&*writer, vec![write]);
        assert!(matches!(stored[..], [Ok(true)]), "{mode:?}: {stored:?}");
    }
    assert_eq!(cache.stats().errors, 0);
}
