//! Memcached's limits, each against a real server: values over the item size
//! limit (read from the server's `stats settings`) are not stored but counted
//! and still returned; compression lets large values fit; TTLs over 30 days
//! become Unix times and sub-second TTLs round up to 1 s, never to 0; TTLs
//! that end after memcached's last time (2038) are stored without expiry.

#![cfg(feature = "memcached")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use cachetool::{cached, Backend, Cache, ConnectOptions, LockRequest, MemcachedBackend, Value};
use cachetool_test_harness::memcached::request;
use cachetool_test_harness::{Kind, Server};
use support::memcached::Setup;
use support::remote::cost;

/// A string of `len` bytes that compresses well.
fn compressible(len: usize) -> String {
    "all work and no play makes jack a dull boy. ".repeat(len / 44 + 1)[..len].to_owned()
}

/// A string of `len` bytes that does not compress.
fn incompressible(len: usize) -> String {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'!' + (state % 90) as u8)
        })
        .collect()
}

static DEFAULT: LazyLock<Setup> = LazyLock::new(|| Setup::new("mc-limits", |builder| builder));
static BIG_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &DEFAULT.cache, name = "big")]
fn big(len: usize) -> String {
    BIG_RUNS.fetch_add(1, SeqCst);
    incompressible(len)
}

#[test]
fn a_value_over_the_item_size_limit_is_returned_not_stored_and_counted() {
    let setup = &*DEFAULT;
    let len = 1_500_000; // over memcached's default 1 MiB
    let (value, _, calls) = cost!(setup, big(len));
    assert_eq!(value.len(), len);
    // The lock and epoch adds went out; the value did not.
    assert_eq!(calls.get("cmd_set"), Some(&2), "{calls:?}");
    assert_eq!(setup.backend.oversized(), 1);
    assert_eq!(big(len).len(), len, "a miss again: nothing was stored");
    assert_eq!(BIG_RUNS.load(SeqCst), 2);
    assert_eq!(setup.backend.oversized(), 2);
    let stats = setup.cache.stats();
    assert_eq!(
        (stats.errors, stats.oversized),
        (0, 2),
        "counted as oversized, not as errors: {stats:?}"
    );

    // Just under the limit: stored, then a hit.
    let len = 1_000_000;
    assert_eq!(big(len).len(), len);
    assert_eq!(big(len).len(), len);
    assert_eq!(BIG_RUNS.load(SeqCst), 3);
    assert_eq!(setup.backend.oversized(), 2);
}

#[test]
fn the_limit_is_the_servers_item_size_max() {
    let setup = Setup::with_servers("mc-limits-2m", 1, &["-I", "2m"], |builder| builder);
    let key = format!("{}:entry:f:1", setup.cache.prefix());
    let value = Value::from(incompressible(1_500_000).into_bytes());
    assert!(setup
        .backend
        .replace_if(&key, None, value, None, None)
        .unwrap());
    let got = setup.backend.get_many(&[&key]).unwrap();
    assert_eq!(
        got[0].as_ref().and_then(Value::as_bytes).map(<[u8]>::len),
        Some(1_500_000)
    );
    let too_big = Value::from(incompressible(2_200_000).into_bytes());
    let other = format!("{}:entry:f:2", setup.cache.prefix());
    // Not a lost race but a refusal: both say so with a TooLarge error.
    let error = setup
        .backend
        .replace_if(&other, None, too_big.clone(), None, None)
        .unwrap_err();
    assert_eq!(error.kind(), cachetool::ErrorKind::TooLarge, "{error}");
    assert_eq!(setup.backend.oversized(), 1);
    let error = setup.backend.set(&other, too_big, None).unwrap_err();
    assert_eq!(error.kind(), cachetool::ErrorKind::TooLarge, "{error}");
    assert!(error.to_string().contains("item size limit"), "{error}");
    assert_eq!(setup.backend.oversized(), 2);
}

static COMPRESSED: LazyLock<Setup> = LazyLock::new(|| {
    let server = Server::start(Kind::Memcached);
    let url = format!("{}?compress_over=65536", server.url());
    Setup::on_url(vec![server], &url, "mc-compressed", |builder| builder)
});
static TEXT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = &COMPRESSED.cache, name = "text")]
fn text(len: usize, compresses: bool) -> String {
    TEXT_RUNS.fetch_add(1, SeqCst);
    if compresses {
        compressible(len)
    } else {
        incompressible(len)
    }
}

#[test]
fn compression_makes_large_values_fit() {
    let setup = &*COMPRESSED;
    assert_eq!(setup.backend.compression(), Some(65536));
    let len = 3_000_000; // three times the item size limit, before compression
    assert_eq!(text(len, true), compressible(len));
    assert_eq!(text(len, true), compressible(len), "a hit");
    assert_eq!(TEXT_RUNS.load(SeqCst), 1);

    // Stored compressed, with the LZ4 flag (1 << 16), well under the limit.
    let address = &setup.addresses()[0];
    let dump = request(address, b"lru_crawler metadump all\r\n", &[b"END\r\n"]);
    let dump = String::from_utf8(dump).unwrap();
    let entries: Vec<&str> = dump
        .lines()
        .filter_map(|line| line.strip_prefix("key=")?.split(' ').next())
        .filter(|key| key.contains("entry"))
        .collect();
    assert_eq!(entries.len(), 1, "{dump}");
    let key = entries[0].replace("%3A", ":");
    // Meta get of flags and size.
    let answer = request(address, format!("mg {key} f s\r\n").as_bytes(), &[b"\r\n"]);
    let answer = String::from_utf8(answer).unwrap();
    let field = |name: char| -> u64 {
        answer
            .trim_end()
            .split(' ')
            .find_map(|flag| flag.strip_prefix(name))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {answer:?}"))
    };
    assert_eq!(field('f'), 1 << 16, "{answer}");
    assert!(field('s') < 200_000, "{answer}");

    // Small values are stored as they are; incompressible large ones are still too large.
    assert_eq!(text(100, true), compressible(100));
    assert_eq!(text(2_000_000, false).len(), 2_000_000);
    assert_eq!(setup.backend.oversized(), 1);
    assert_eq!(setup.cache.stats().errors, 0);
}

#[test]
fn compression_is_a_backend_setting_too() {
    let server = Server::start(Kind::Memcached);
    let backend = MemcachedBackend::open(&server.url(), &ConnectOptions::default())
        .unwrap()
        .with_compression(Some(1024));
    assert_eq!(backend.compression(), Some(1024));
    let backend = Arc::new(backend);
    let value = Value::from(compressible(2_000_000).into_bytes());
    backend.set("k", value.clone(), None).unwrap();
    let got = backend.get_many(&["k"]).unwrap();
    assert_eq!(got[0].as_ref().and_then(Value::as_bytes), value.as_bytes());
    // Any backend reads compressed values, whatever its own setting.
    let plain = MemcachedBackend::open(&server.url(), &ConnectOptions::default()).unwrap();
    let got = plain.get_many(&["k"]).unwrap();
    assert_eq!(got[0].as_ref().and_then(Value::as_bytes), value.as_bytes());
    let cache = Cache::builder().backend(backend).build().unwrap();
    assert_eq!(cache.stats().errors, 0);
}

/// The remaining TTL memcached reports for `key` (meta `mg key t`): -1 for none.
fn remaining_ttl(address: &str, key: &str) -> Option<i64> {
    let answer = request(address, format!("mg {key} t\r\n").as_bytes(), &[b"\r\n"]);
    let answer = String::from_utf8(answer).unwrap();
    answer
        .trim_end()
        .strip_prefix("HD ")?
        .split(' ')
        .find_map(|flag| flag.strip_prefix('t'))?
        .parse()
        .ok()
}

#[test]
fn ttls_over_30_days_are_unix_times_and_short_ones_round_up() {
    let setup = Setup::new("mc-ttl", |builder| builder);
    let address = &setup.addresses()[0];
    let backend = &setup.backend;
    let day = 24 * 60 * 60;
    let key = |name: &str| format!("{}:entry:{name}", setup.cache.prefix());

    backend
        .set(&key("forever"), b"x".to_vec().into(), None)
        .unwrap();
    assert_eq!(remaining_ttl(address, &key("forever")), Some(-1));

    backend
        .set(
            &key("30d"),
            b"x".to_vec().into(),
            Some(Duration::from_secs(30 * day)),
        )
        .unwrap();
    let left = remaining_ttl(address, &key("30d")).unwrap();
    assert!(
        (30 * day as i64 - 5..=30 * day as i64).contains(&left),
        "{left}"
    );

    // Sent as a relative 40 days, memcached would read a date in 1970 and drop it at once.
    backend
        .set(
            &key("40d"),
            b"x".to_vec().into(),
            Some(Duration::from_secs(40 * day)),
        )
        .unwrap();
    let left = remaining_ttl(address, &key("40d")).unwrap();
    assert!(
        (40 * day as i64 - 5..=40 * day as i64 + 1).contains(&left),
        "{left}"
    );
    assert!(backend.get_many(&[&key("40d")]).unwrap()[0].is_some());

    // 300 ms is 1 s (0 would be forever); it does expire.
    assert!(backend
        .replace_if(
            &key("short"),
            None,
            b"x".to_vec().into(),
            Some(Duration::from_millis(300)),
            None
        )
        .unwrap());
    let left = remaining_ttl(address, &key("short"));
    assert!(matches!(left, Some(0..=1) | None), "{left:?}");
    let lock = key("lock");
    let start = backend
        .begin_load(
            Some(LockRequest::new(&lock, 1, Duration::from_millis(1))),
            &[],
            &[],
            &key("short"),
        )
        .unwrap();
    assert!(start.locked);
    assert!(matches!(remaining_ttl(address, &lock), Some(0..=1) | None));
    let deadline = Instant::now() + Duration::from_secs(10);
    while backend
        .get_many(&[&key("short"), &lock])
        .unwrap()
        .iter()
        .any(Option::is_some)
    {
        assert!(Instant::now() < deadline, "a sub-second TTL must expire");
        std::thread::sleep(Duration::from_millis(100));
    }
}

static LONG_TTL: LazyLock<Setup> = LazyLock::new(|| Setup::new("mc-long-ttl", |builder| builder));
static LONG_RUNS: AtomicUsize = AtomicUsize::new(0);

const TWENTY_YEARS: Duration = Duration::from_secs(20 * 365 * 24 * 60 * 60);

#[cached(cache = &LONG_TTL.cache, name = "twenty_years", key = format!("k{n}"), ttl = TWENTY_YEARS)]
fn twenty_years(n: u64) -> u64 {
    LONG_RUNS.fetch_add(1, SeqCst);
    n
}

#[cached(cache = &LONG_TTL.cache, name = "longest", key = format!("k{n}"), ttl = Duration::MAX)]
fn longest(n: u64) -> u64 {
    LONG_RUNS.fetch_add(1, SeqCst);
    n
}

#[test]
fn ttls_past_2038_are_stored_without_expiry_and_cache() {
    // An absolute time past 2^31-1 reads as negative to memcached: the item
    // would expire at once and every call would miss. A TTL that long is in
    // effect forever: stored with exptime 0, it caches.
    let setup = &*LONG_TTL;
    let address = &setup.addresses()[0];
    let entry = |name: &str| format!("{}:entry:{name}:k1", setup.cache.prefix());
    assert_eq!(twenty_years(1), 1);
    assert_eq!(twenty_years(1), 1);
    assert_eq!(LONG_RUNS.load(SeqCst), 1, "the second call is a hit");
    assert_eq!(remaining_ttl(address, &entry("twenty_years")), Some(-1));
    assert_eq!(longest(1), 1);
    assert_eq!(longest(1), 1);
    assert_eq!(LONG_RUNS.load(SeqCst), 2, "the second call is a hit");
    assert_eq!(remaining_ttl(address, &entry("longest")), Some(-1));
    assert_eq!(setup.cache.stats().errors, 0);

    // The backend directly, with the longest TTL and the first one past 2038.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let past_2038 = Duration::from_secs(i32::MAX as u64 + 1 - now);
    for (name, ttl) in [("max", Duration::MAX), ("past-2038", past_2038)] {
        let key = entry(name);
        setup
            .backend
            .set(&key, b"x".to_vec().into(), Some(ttl))
            .unwrap();
        assert!(
            setup.backend.get_many(&[&key]).unwrap()[0].is_some(),
            "{name}"
        );
        assert_eq!(remaining_ttl(address, &key), Some(-1), "{name}");
    }
}
