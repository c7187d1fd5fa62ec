//! Every kind of change made through one backend arrives at a subscriber of
//! another: one Redis, a cluster, TLS, Memcached through its backplane.

use super::*;

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
    let cache = cache_on(&writer, &prefix);
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
    listener.hears_a_clean_through(&url, &prefix);
}

#[test]
fn a_backends_own_changes_carry_its_own_id() {
    let server = Server::start(Kind::Redis);
    let prefix = unique_prefix("own");
    let backend: Arc<dyn Backend> = Arc::new(redis(&server.url()));
    let other = redis(&server.url());
    let listener = listen(&*backend, &prefix);
    let cache = cache_on(&backend, &prefix);
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
    let cache = cache_on(&writer, &prefix);
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
    let cache = cache_on(&writer, &prefix);
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
