//! `ttl = |value| ...`: each value lives as long as it says, over the
//! cache's default TTL; for a `Result`, the closure sees the `Ok` value.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use cachetool::{admin, cached};
use serde::{Deserialize, Serialize};

/// The short-lived value's TTL: memcached counts expiry in whole seconds, so
/// 2 s is the shortest that is surely alive right after a store.
const SHORT: Duration = Duration::from_secs(2);
/// The long-lived value's TTL: it outlives the test.
const LONG: Duration = Duration::from_secs(600);

/// A value that knows its own lifetime.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Token {
    id: u32,
    lifetime: Duration,
}

fn token_for(id: u32) -> Token {
    let lifetime = if id == 1 { SHORT } else { LONG };
    Token { id, lifetime }
}

/// How long past its TTL an entry may still be served (see `tests/ttl.rs`).
fn grace(kind: support::BackendKind) -> Duration {
    match kind {
        support::BackendKind::Memcached => Duration::from_secs(1),
        support::BackendKind::Redis => Duration::from_millis(100),
        support::BackendKind::Memory => Duration::ZERO,
    }
}

/// The remaining TTL of `function`'s entry for `id`, on a remote backend.
fn remaining(cache: &cachetool::Cache, function: &str, id: u32) -> Option<Duration> {
    let key = admin::entry_key(cache.prefix(), function, &[id]).unwrap();
    admin::inspect(cache, &key).unwrap().expect("stored").ttl
}

support::modes::for_each_mode! {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    static OK_RUNS: AtomicUsize = AtomicUsize::new(0);

    // The cache's default TTL (1 s) is shorter than both: the closure decides.
    #[cached(
        cache = cache_with("ttl-closure", |builder| builder.ttl(Duration::from_secs(1))),
        name = "tokens.get",
        ttl = |token: &Token| token.lifetime
    )]
    fn token(id: u32) -> Token {
        RUNS.fetch_add(1, SeqCst);
        token_for(id)
    }

    #[cached(cache = cache("ttl-closure-ok"), name = "tokens.fetch", ttl = |token| token.lifetime)]
    fn fetch(id: u32) -> Result<Token, String> {
        OK_RUNS.fetch_add(1, SeqCst);
        match id {
            0 => Err("no token 0".to_owned()),
            id => Ok(token_for(id)),
        }
    }

    #[test]
    fn each_value_lives_as_long_as_it_says() {
        assert_eq!(call!(token(1)), token_for(1));
        assert_eq!(call!(token(2)), token_for(2));
        let stored_by = Instant::now();
        if KIND != support::BackendKind::Memory {
            let cache = cache("ttl-closure");
            let short = remaining(cache, "tokens.get", 1).expect("expires");
            let long = remaining(cache, "tokens.get", 2).expect("expires");
            assert!(short <= SHORT, "{short:?}");
            assert!(long <= LONG && long > SHORT, "{long:?}");
        }
        sleep!((stored_by + SHORT + grace(KIND)).saturating_duration_since(Instant::now()));
        assert_eq!(call!(token(1)), token_for(1));
        assert_eq!(RUNS.load(SeqCst), 3, "the short-lived value expired");
        assert_eq!(call!(token(2)), token_for(2));
        assert_eq!(RUNS.load(SeqCst), 3, "the long-lived value is still a hit");
    }

    #[test]
    fn a_results_closure_sees_the_ok_value() {
        assert_eq!(call!(fetch(0)), Err("no token 0".to_owned()));
        assert_eq!(call!(fetch(1)), Ok(token_for(1)));
        assert_eq!(call!(fetch(2)), Ok(token_for(2)));
        let stored_by = Instant::now();
        assert_eq!(call!(fetch(2)), Ok(token_for(2)));
        assert_eq!(OK_RUNS.load(SeqCst), 3, "the Oks are stored");
        sleep!((stored_by + SHORT + grace(KIND)).saturating_duration_since(Instant::now()));
        assert_eq!(call!(fetch(1)), Ok(token_for(1)));
        assert_eq!(call!(fetch(2)), Ok(token_for(2)));
        assert_eq!(OK_RUNS.load(SeqCst), 4, "only the short-lived one ran again");
    }
}
