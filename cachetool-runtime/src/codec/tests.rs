//! The envelope: what encodes decodes, what is damaged, foreign, stale or
//! of another format reads as a miss.

use super::*;

#[test]
fn bytes_round_trip_only_under_the_same_versions_and_type() {
    let entry = encode(false, &[1, 2], FreshUntil::ALWAYS, &"hello".to_string()).unwrap();
    assert_eq!(decode::<String>(&entry, &[1, 2]).as_deref(), Some("hello"));
    assert_eq!(decode::<String>(&entry, &[1, 3]), None);
    assert_eq!(decode::<String>(&entry, &[1]), None);
    assert_eq!(decode::<u64>(&entry, &[1, 2]), None);
}

#[test]
fn objects_round_trip_only_under_the_same_versions_and_type() {
    let entry = encode(true, &[7], FreshUntil::ALWAYS, &vec![1u8, 2]).unwrap();
    assert_eq!(decode::<Vec<u8>>(&entry, &[7]), Some(vec![1, 2]));
    assert_eq!(decode::<Vec<u8>>(&entry, &[8]), None);
    assert_eq!(decode::<String>(&entry, &[7]), None);
}

#[test]
fn garbage_truncation_and_tombstones_are_misses() {
    let entry = encode(false, &[1], FreshUntil::ALWAYS, &42u64).unwrap();
    let bytes = entry.as_bytes().unwrap();
    for cut in 0..bytes.len() {
        assert_eq!(
            decode::<u64>(&Value::from(bytes[..cut].to_vec()), &[1]),
            None,
            "cut at {cut}"
        );
    }
    assert_eq!(
        decode::<u64>(&Value::from(b"not ours at all".to_vec()), &[1]),
        None
    );
    assert_eq!(decode::<u64>(&tombstone(false), &[]), None);
    assert_eq!(decode::<u64>(&tombstone(true), &[]), None);
}

#[test]
fn envelope_layout_is_as_documented() {
    let entry = encode(false, &[0x0102], FreshUntil::ALWAYS, &true).unwrap();
    let bytes = entry.as_bytes().unwrap();
    assert_eq!(&bytes[..4], &[b'C', b'T', 2, 0]);
    assert_eq!(&bytes[28..36], &[0; 8], "always fresh");
    assert_eq!(&bytes[36..38], &[1, 0]);
    assert_eq!(&bytes[38..46], &0x0102u64.to_le_bytes());
    assert_eq!(&bytes[46..], &[0xf5]); // CBOR true
    let until = FreshUntil::after(Some(Duration::from_secs(60)));
    let entry = encode(false, &[], until, &true).unwrap();
    let bytes = entry.as_bytes().unwrap();
    assert_eq!(&bytes[28..36], &until.unix_ms().to_le_bytes());
    let created = u64::from_le_bytes(bytes[12..20].try_into().unwrap());
    let fresh_for = until.unix_ms() - created;
    assert!((59_000..=60_000).contains(&fresh_for), "{fresh_for}");
}

#[test]
fn an_expired_value_is_a_miss_that_the_expired_read_still_finds() {
    let past = FreshUntil(unix_ms_now() - 5_000);
    let future = FreshUntil::after(Some(Duration::from_secs(60)));
    for objects in [false, true] {
        let expired = encode(objects, &[1], past, &7u64).unwrap();
        assert_eq!(decode::<u64>(&expired, &[1]), None);
        let found = decode_expired_too::<u64>(&expired, &[1]).unwrap();
        assert_eq!((found.value, found.fresh_until), (7, past));
        let ago = found.fresh_until.expired_for().unwrap();
        assert!(ago >= Duration::from_secs(5), "{ago:?}");
        assert_eq!(
            decode_expired_too::<u64>(&expired, &[2]).map(|d| d.value),
            None
        );
        let fresh = encode(objects, &[1], future, &8u64).unwrap();
        assert_eq!(decode::<u64>(&fresh, &[1]), Some(8));
        assert_eq!(future.expired_for(), None);
        let always = encode(objects, &[1], FreshUntil::ALWAYS, &9u64).unwrap();
        assert_eq!(decode::<u64>(&always, &[1]), Some(9));
        assert_eq!(FreshUntil::ALWAYS.expired_for(), None);
    }
}

#[test]
fn an_entry_of_the_first_format_is_a_miss() {
    // Format 1: the header without "fresh until" (30 bytes), then the CBOR.
    let mut old = b"CT\x01\x00".to_vec();
    old.extend_from_slice(&[9; 8]); // stamp
    old.extend_from_slice(&unix_ms_now().to_le_bytes());
    old.extend_from_slice(&type_fingerprint::<bool>().to_le_bytes());
    old.extend_from_slice(&[0, 0]); // no versions
    old.push(0xf5); // CBOR true
    old.resize(HEADER_LEN + 1, 0xf5);
    let old = Value::from(old);
    assert_eq!(decode::<bool>(&old, &[]), None);
    assert!(decode_expired_too::<bool>(&old, &[]).is_none());
    assert!(!is_entry(old.as_bytes().unwrap()));
    assert!(read_envelope(old.as_bytes().unwrap()).is_none());
}

#[test]
fn envelopes_read_back_their_fields() {
    let entry = encode(false, &[7, 8], FreshUntil::ALWAYS, &"hi".to_string()).unwrap();
    let envelope = read_envelope(entry.as_bytes().unwrap()).unwrap();
    assert!(!envelope.tombstone);
    assert_eq!(envelope.versions, [7, 8]);
    assert_eq!(envelope.type_fingerprint, type_fingerprint::<String>());
    assert_eq!(envelope.value, [0x62, b'h', b'i']);
    assert!(envelope.created_unix_ms > 0);
    let tombstone = tombstone(false);
    let envelope = read_envelope(tombstone.as_bytes().unwrap()).unwrap();
    assert!(envelope.tombstone && envelope.versions.is_empty() && envelope.value.is_empty());
    let bytes = entry.as_bytes().unwrap();
    assert!(
        read_envelope(&bytes[..43]).is_none(),
        "cut inside the versions"
    );
    assert!(read_envelope(b"not ours at all, not even close").is_none());
}

#[test]
fn entries_and_tombstones_are_entries_and_nothing_else_is() {
    let entry = encode(false, &[1], FreshUntil::ALWAYS, &42u64).unwrap();
    let bytes = entry.as_bytes().unwrap();
    assert!(is_entry(bytes));
    assert!(is_entry(tombstone(false).as_bytes().unwrap()));
    assert!(!is_entry(&bytes[..HEADER_LEN - 1]), "shorter than a header");
    assert!(!is_entry(b"CT\x03 a later format, not ours to read, no"));
    assert!(!is_entry(b"12345678901234567890123456789012345"));
    // The stamp is within the write's id, and differs between writes.
    let again = encode(false, &[1], FreshUntil::ALWAYS, &42u64).unwrap();
    assert_ne!(
        bytes[..WRITE_ID_LEN],
        again.as_bytes().unwrap()[..WRITE_ID_LEN]
    );
}

#[test]
fn new_versions_are_decimal_numbers() {
    for _ in 0..1000 {
        let version = new_version();
        let text = std::str::from_utf8(version.as_bytes().unwrap()).unwrap();
        assert_eq!(text.parse::<u64>().unwrap().to_string(), text);
    }
}

#[test]
fn every_tombstone_is_a_new_value() {
    assert!(!tombstone(true).is_same(&tombstone(true)));
    assert!(!tombstone(false).is_same(&tombstone(false)));
}
