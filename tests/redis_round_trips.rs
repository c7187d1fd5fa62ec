//! Round trips of what only Redis does, against a real redis-server: its
//! store script, sent again as EVAL once the server forgot it (for one store
//! and for `_many`'s pipelined writes), and the one pipeline of a `_many`'s
//! stores with their exact commands. What a hit, a miss, `invalidate`,
//! `clean` and `clean_all` cost on Redis (and on Memcached), sync and async,
//! is in `round_trips.rs`.

#![cfg(feature = "redis")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::LazyLock;

use cachetool::{cached, Backend};
use support::redis::Setup;
use support::remote::{cost, counts};

/// The backend of `cache(name)` in the mode modules (unused here: every test
/// has a server of its own).
const KIND: support::BackendKind = support::BackendKind::Redis;

support::modes::in_modes! {
    static BATCHED: LazyLock<Setup> = LazyLock::new(|| Setup::new("rt-batched", |builder| builder));
    static BATCHED_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache = &BATCHED.cache, name = "batched", tags = [format!("t{n}")])]
    fn batched(n: u64) -> u64 {
        BATCHED_RUNS.fetch_add(1, SeqCst);
        n * 10
    }

    #[test]
    fn the_misses_of_a_many_are_stored_in_one_pipeline() {
        let setup = &*BATCHED;
        // The epoch exists and the server knows the store script.
        assert_eq!(call!(batched(0)), 0);

        // Four misses: one MGET of the entries, the epoch and the tags; each
        // miss's begin_load pipeline (its lock, its versions, MGET); then one
        // pipeline of the four stores, each an EVALSHA that compares and sets
        // its entry and releases its lock.
        let (_, trips, calls) = cost!(
            setup,
            assert_eq!(call!(batched_many([1, 2, 3, 4])), [10, 20, 30, 40])
        );
        assert_eq!(trips, 1 + 4 + 1, "{calls:?}");
        assert_eq!(
            (calls["mget"], calls["evalsha"], calls.get("eval")),
            (1 + 4, 4, None),
            "{calls:?}"
        );
        assert_eq!(BATCHED_RUNS.load(SeqCst), 5);
        let locks = setup
            .keys()
            .into_iter()
            .filter(|key| key.windows(6).any(|window| window == b":lock:"))
            .count();
        assert_eq!(locks, 0, "each lock went with its store");

        // All stored: the same items again are one MGET.
        let (_, trips, calls) = cost!(
            setup,
            assert_eq!(call!(batched_many([4, 3, 2, 1])), [40, 30, 20, 10])
        );
        assert_eq!((trips, calls), (1, counts(&[("mget", 1)])));
        assert_eq!(BATCHED_RUNS.load(SeqCst), 5);
        assert_eq!(setup.cache.stats().errors, 0);
    }
}

// A call of the blocking backend itself, in neither mode: the async
// connection's fallback to EVAL is the cold miss of `round_trips.rs`.
#[test]
fn a_flushed_script_cache_falls_back_to_eval() {
    let setup = Setup::new("rt-noscript", |builder| builder);
    let backend = &setup.backend;
    let key = format!("{}:entry:f:1", setup.cache.prefix());
    assert!(backend
        .replace_if(&key, None, b"one".to_vec().into(), None, None)
        .unwrap());
    let mut conn = setup.raw();
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut conn).unwrap();
    let seen = cachetool::Value::from(b"one".to_vec());
    let (replaced, trips, calls) = cost!(&setup, {
        backend
            .replace_if(&key, Some(&seen), b"two".to_vec().into(), None, None)
            .unwrap()
    });
    assert!(replaced);
    assert_eq!(
        (trips, calls),
        (
            2,
            counts(&[
                ("eval", 1),
                ("evalsha", 1),
                ("get", 1),
                ("publish", 1),
                ("set", 1)
            ])
        )
    );
    // Loaded again by EVAL: the next call is one EVALSHA.
    let seen = cachetool::Value::from(b"two".to_vec());
    let (replaced, trips, calls) = cost!(&setup, {
        backend
            .replace_if(&key, Some(&seen), b"x".to_vec().into(), None, None)
            .unwrap()
    });
    assert!(replaced);
    assert_eq!(
        (trips, calls),
        (
            1,
            counts(&[("evalsha", 1), ("get", 1), ("publish", 1), ("set", 1)])
        )
    );
}

/// The same for the pipelined writes of `replace_if_many` (sync and async):
/// every store met `NOSCRIPT`, and all go again as `EVAL`, in one more round trip.
#[test]
fn a_flushed_script_cache_sends_the_pipelined_writes_again_as_eval() {
    let setup = Setup::new("rt-noscript-many", |builder| builder);
    let backend = &setup.backend;
    let keys: Vec<String> = (0..3)
        .map(|n| format!("{}:entry:f:{n}", setup.cache.prefix()))
        .collect();
    let writes = |value: &str| -> Vec<cachetool::ReplaceIf<'_>> {
        let value = cachetool::Value::from(value.as_bytes().to_vec());
        keys.iter()
            .map(|key| cachetool::ReplaceIf::new(key, None, value.clone(), None, None))
            .collect()
    };
    let flush = || {
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query(&mut setup.raw())
            .unwrap();
    };
    let stored = |results: Vec<cachetool::Result<bool>>| -> Vec<bool> {
        results.into_iter().map(|result| result.unwrap()).collect()
    };

    flush();
    let (_, trips, calls) = cost!(&setup, {
        assert_eq!(stored(backend.replace_if_many(writes("one"))), [true; 3]);
    });
    assert_eq!(trips, 2, "{calls:?}");
    assert_eq!((calls["evalsha"], calls["eval"]), (3, 3), "{calls:?}");
    // Loaded again: one pipeline of EVALSHAs (nothing stored: each key holds a value).
    let (_, trips, calls) = cost!(&setup, {
        assert_eq!(stored(backend.replace_if_many(writes("two"))), [false; 3]);
    });
    assert_eq!((trips, calls.get("eval")), (1, None), "{calls:?}");

    #[cfg(feature = "tokio")]
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let remaining: Vec<String> = (3..6)
            .map(|n| format!("{}:entry:f:{n}", setup.cache.prefix()))
            .collect();
        let value = cachetool::Value::from(b"three".to_vec());
        let writes: Vec<cachetool::ReplaceIf<'_>> = remaining
            .iter()
            .map(|key| cachetool::ReplaceIf::new(key, None, value.clone(), None, None))
            .collect();
        flush();
        let (_, trips, calls) = cost!(&setup, {
            let async_backend = backend.as_async().expect("native async");
            let results = runtime.block_on(async_backend.replace_if_many(writes));
            assert_eq!(stored(results), [true; 3]);
        });
        // As on the blocking side: the EVALSHAs, then the EVALs.
        assert_eq!(trips, 2, "{calls:?}");
        assert_eq!((calls["evalsha"], calls["eval"]), (3, 3), "{calls:?}");
    }
}
