//! From our keys to keys Memcached accepts, and from TTLs to its expiry times.
//!
//! A Memcached key is at most 250 bytes without spaces or control characters.
//! Ours can be anything (a `key = ...` may hold spaces, newlines or megabytes).
//! A key of at most 250 printable ASCII bytes other than space and `~` is sent
//! as it is; any other key is sent as a digest form, `{readable part}~{xxh3-128
//! of the whole key, 32 hex digits}`. A key sent as it is never holds `~` and a
//! digest form always does, so no key sent as it is equals a digest form; two
//! digest forms are equal only if the 128-bit hashes of two different keys are.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use xxhash_rust::xxh3::xxh3_128;

/// Memcached's longest key.
pub(super) const MAX_KEY_LEN: usize = 250;
/// The separator of the digest form; never in a key sent as it is.
const DIGEST_MARK: u8 = b'~';
/// How much of an unsendable key stays readable in its digest form.
const READABLE_LEN: usize = 160;

/// The key to send for `key`.
pub(super) fn wire_key(key: &str) -> Cow<'_, str> {
    if key.len() <= MAX_KEY_LEN && !key.is_empty() && all_plain(key.as_bytes()) {
        return Cow::Borrowed(key);
    }
    let mut wire = String::with_capacity(READABLE_LEN + 1 + 32);
    for byte in key.bytes().take(READABLE_LEN) {
        wire.push(if is_plain(byte) { byte as char } else { '_' });
    }
    wire.push(DIGEST_MARK as char);
    let _ = write!(wire, "{:032x}", xxh3_128(key.as_bytes()));
    Cow::Owned(wire)
}

/// The keys to send for `keys`, in order.
pub(super) fn wire_keys<'k>(keys: &[&'k str]) -> Vec<Cow<'k, str>> {
    keys.iter().map(|key| wire_key(key)).collect()
}

/// Printable ASCII, not a space, not the digest mark.
fn is_plain(byte: u8) -> bool {
    matches!(byte, 0x21..=0x7e) && byte != DIGEST_MARK
}

/// Whether every byte [`is_plain`]: eight bytes at a time, as this runs over
/// every key of every call. The digest mark `~` is 0x7e, so a plain byte is
/// one in 0x21..=0x7d.
fn all_plain(bytes: &[u8]) -> bool {
    const fn each(byte: u8) -> u64 {
        u64::from_ne_bytes([byte; 8])
    }
    let chunks = bytes.chunks_exact(8);
    let tail = chunks.remainder();
    let chunks_plain = chunks.into_iter().all(|chunk| {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(word);
        // For bytes below 0x80 (the high bit of `word` itself catches the others),
        // adding 0x5f sets the high bit exactly from 0x21 up, adding 0x02 exactly
        // from 0x7e up, and neither carries into the next byte.
        let at_least_0x21 = word.wrapping_add(each(0x5f));
        let at_least_0x7e = word.wrapping_add(each(0x02));
        (word | !at_least_0x21 | at_least_0x7e) & each(0x80) == 0
    });
    chunks_plain && tail.iter().all(|&byte| is_plain(byte))
}

/// Longest expiry Memcached takes as relative seconds; longer ones are Unix times.
const MAX_RELATIVE_SECS: u64 = 60 * 60 * 24 * 30;

/// The latest Unix time memcached takes: it reads `exptime` as a signed
/// 32-bit number, so a later time (after January 2038) is negative to it, and
/// an item stored with it expires at once.
const MAX_UNIX_TIME: u64 = i32::MAX as u64;

/// The `exptime` for `ttl`: 0 (never) for `None`; whole seconds rounded up and
/// at least 1 (0 would mean never); a Unix time beyond 30 days; and 0 (never
/// expires, only evicted) for a TTL that ends after memcached's last time,
/// January 2038: such a TTL (over about 12 years today, `Duration::MAX`
/// included) is in effect forever, while the time itself would expire the
/// item at once. No arithmetic here overflows, whatever the TTL.
pub(super) fn exptime(ttl: Option<Duration>) -> u64 {
    let Some(ttl) = ttl else { return 0 };
    let secs = ttl
        .as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0))
        .max(1);
    if secs <= MAX_RELATIVE_SECS {
        return secs;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    match now.saturating_add(secs) {
        at if at <= MAX_UNIX_TIME => at,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_at_a_time_check_agrees_with_the_byte_check() {
        for byte in 0..=u8::MAX {
            for at in 0..12 {
                let mut key = vec![b'k'; 12];
                key[at] = byte;
                assert_eq!(all_plain(&key), is_plain(byte), "byte {byte:#x} at {at}");
            }
        }
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..10_000 {
            let key: Vec<u8> = (0..rng.usize(0..40)).map(|_| rng.u8(0x1c..0x82)).collect();
            assert_eq!(all_plain(&key), key.iter().all(|&byte| is_plain(byte)));
        }
    }

    #[test]
    fn plain_keys_are_kept_others_hashed_and_valid() {
        assert_eq!(wire_key("app:entry:m.f:1"), "app:entry:m.f:1");
        let long = "k".repeat(250);
        assert_eq!(wire_key(&long), long.as_str());
        for key in [
            "k".repeat(251),
            "app:entry:<a.B as c.D>.f:x".into(),
            "a\r\nb".into(),
            "tab\there".into(),
            "t~ilde".into(),
            "é".into(),
            String::new(),
            "\0".into(),
        ] {
            let wire = wire_key(&key);
            assert!(wire.len() <= MAX_KEY_LEN, "{wire}");
            assert!(wire.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{wire:?}");
            assert_eq!(wire.matches('~').count(), 1, "{wire}");
            assert!(wire.ends_with(&format!("{:032x}", xxh3_128(key.as_bytes()))));
        }
    }

    #[test]
    fn different_keys_never_share_a_wire_key() {
        // The digest form of one key is a plain-looking key of its own: it gets hashed too.
        let hashed = wire_key("a b").into_owned();
        assert_ne!(wire_key(&hashed), hashed.as_str());
        assert_ne!(wire_key("a b"), wire_key("a_b"));
        assert_ne!(wire_key(&"x".repeat(300)), wire_key(&"x".repeat(301)));
    }

    #[test]
    fn ttls_round_up_and_switch_to_unix_time_after_30_days() {
        assert_eq!(exptime(None), 0);
        assert_eq!(exptime(Some(Duration::from_millis(1))), 1);
        assert_eq!(exptime(Some(Duration::ZERO)), 1);
        assert_eq!(exptime(Some(Duration::from_millis(1500))), 2);
        assert_eq!(exptime(Some(Duration::from_secs(60))), 60);
        assert_eq!(
            exptime(Some(Duration::from_secs(MAX_RELATIVE_SECS))),
            MAX_RELATIVE_SECS
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let at = exptime(Some(Duration::from_secs(MAX_RELATIVE_SECS + 1)));
        assert!((now + MAX_RELATIVE_SECS + 1..=now + MAX_RELATIVE_SECS + 3).contains(&at));
    }

    #[test]
    fn ttls_past_2038_never_expire_and_none_overflows() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        // The last TTL memcached can express as a time, and the first it cannot.
        let last = Duration::from_secs(MAX_UNIX_TIME - now - 10);
        assert!((MAX_UNIX_TIME - 12..=MAX_UNIX_TIME).contains(&exptime(Some(last))));
        let past = Duration::from_secs(MAX_UNIX_TIME - now + 10);
        assert_eq!(exptime(Some(past)), 0);
        for ttl in [
            Duration::from_secs(20 * 365 * 24 * 3600),
            Duration::from_secs(u64::MAX),
            Duration::new(u64::MAX - 1, 999_999_999),
            Duration::MAX,
        ] {
            assert_eq!(exptime(Some(ttl)), 0, "{ttl:?}");
        }
    }
}
