//! Round trips of what only Redis does, against a real redis-server: its
//! store script, sent again as EVAL once the server forgot it. What a hit, a
//! miss, `invalidate`, `clean` and `clean_all` cost on Redis (and on
//! Memcached), sync and async, is in `round_trips.rs`.

#![cfg(feature = "redis")]

mod support;

use cachetool::Backend;
use support::redis::Setup;
use support::remote::{cost, counts};

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
            counts(&[("eval", 1), ("evalsha", 1), ("get", 1), ("set", 1)])
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
        (1, counts(&[("evalsha", 1), ("get", 1), ("set", 1)]))
    );
}
