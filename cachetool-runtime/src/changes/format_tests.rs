//! The message format, written and read back: every change reads back as
//! what the call path computes, and nothing damaged reads as a change.

use bytes::Bytes;

use super::*;
use crate::key::{CallId, KeyPart, Namespace, Site};

fn marker() -> &'static str {
    "app::users::load::__cachetool_site"
}
static SITE: Site = Site::new(marker, "", None, 0, true);

fn entry_key(part: &KeyPart) -> String {
    Namespace::new("app").entry_key(SITE.path(), None, &[], part)
}

fn one(message: &Message) -> &Change {
    assert_eq!(message.changes.len(), 1, "{message:?}");
    &message.changes[0]
}

#[test]
fn an_entry_key_reads_back_as_the_call_the_call_path_computes() {
    let hash = 0x0123_4567_89ab_cdef_0011_2233_4455_6677_u128;
    for part in [KeyPart::Hash(hash), KeyPart::Custom("user 7: a:b".into())] {
        let key = entry_key(&part);
        let publication = announce_one(42, &key, None).unwrap();
        assert_eq!(publication.channel, "app:changes");
        let message = decode("app", &publication.message).unwrap();
        assert_eq!(message.origin, 42);
        let call = CallId::new(&SITE, None, &[], &part).unwrap();
        match one(&message) {
            Change::Entry(calls) => assert!(calls.contains(&call), "{calls:?} {call:?}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_custom_key_of_32_hex_digits_names_both_readings() {
    let text = "0123456789abcdef0123456789abcdef";
    let key = entry_key(&KeyPart::Custom(text.into()));
    let message = decode("app", &announce_one(1, &key, None).unwrap().message).unwrap();
    let Change::Entry(calls) = one(&message) else {
        panic!("{message:?}")
    };
    let custom = CallId::new(&SITE, None, &[], &KeyPart::Custom(text.into())).unwrap();
    let hash = CallId::new(
        &SITE,
        None,
        &[],
        &KeyPart::Hash(u128::from_str_radix(text, 16).unwrap()),
    )
    .unwrap();
    assert!(calls.contains(&custom) && calls.contains(&hash));
}

#[test]
fn a_generic_functions_entry_is_unnamed() {
    let key = Namespace::new("app").entry_key(
        SITE.path(),
        None,
        &["alloc::string::String"],
        &KeyPart::Hash(5),
    );
    let message = decode("app", &announce_one(1, &key, None).unwrap().message).unwrap();
    assert_eq!(one(&message), &Change::UnnamedEntry);
}

#[test]
fn tags_and_the_epoch_carry_their_versions() {
    let namespace = Namespace::new("app");
    let mut announcement = Announcement::new(7, "app");
    announcement
        .key(&namespace.tag_key("users"), None)
        .key(&namespace.tag_key("a b:c"), Some(b"123"))
        .key(namespace.epoch_key(), Some(b"99"))
        .key("app:lock:x:y", None)
        .key("other:epoch", Some(b"1"));
    let message = decode("app", &announcement.finish().unwrap().message).unwrap();
    assert_eq!(
        message.changes,
        vec![
            Change::Tag {
                tag: crate::local::tag_hash("users"),
                version: None
            },
            Change::Tag {
                tag: crate::local::tag_hash("a b:c"),
                version: Some(Bytes::from_static(b"123"))
            },
            Change::Epoch {
                version: Some(Bytes::from_static(b"99"))
            },
        ]
    );
}

#[test]
fn keys_of_several_prefixes_make_one_message_each() {
    let publications = announce_keys(3, &["a:tag:x", "b:tag:y", "a:epoch", "a:lock:z", "nothing"]);
    let channels: Vec<&str> = publications
        .iter()
        .map(|(_, p)| p.channel.as_str())
        .collect();
    assert_eq!(channels, ["a:changes", "b:changes"]);
    assert_eq!(publications[0].0, ["a:tag:x", "a:epoch"]);
    assert_eq!(
        decode("a", &publications[0].1.message)
            .unwrap()
            .changes
            .len(),
        2
    );
    assert!(announce_keys(3, &["a:lock:z"]).is_empty());
    assert!(announce_one(3, "no-namespace", None).is_none());
}

#[test]
fn foreign_and_damaged_messages_are_corrupt_never_a_panic() {
    let good = announce_one(9, "app:tag:t", Some(b"5")).unwrap().message;
    assert!(decode("app", &good).is_ok());
    // Cut anywhere, it is an error, but cut before its version: a
    // message about the tag alone (still a change of it, never lost).
    let version_at = good.iter().position(|&byte| byte == b'=').unwrap();
    for cut in 0..good.len() {
        match decode("app", &good[..cut]) {
            Ok(message) => assert!(
                cut == version_at
                    && message.changes
                        == [Change::Tag {
                            tag: crate::local::tag_hash("t"),
                            version: None
                        }],
                "cut at {cut}: {message:?}"
            ),
            Err(_) => assert_ne!(cut, version_at),
        }
    }
    for bad in [
        &b""[..],
        b"hello",
        b"ct1 zzzzzzzzzzzzzzzz 9:app:epoch",
        b"ct1 0000000000000001 99999999999999999999999:x",
        b"ct1 0000000000000001 9:app:epoch=",
        b"ct1 0000000000000001 3:b:x",
        b"ct1 0000000000000001 9:app:lock:",
        b"ct1 0000000000000001 9:app:epochX",
        b"ct1 0000000000000001",
    ] {
        assert!(
            decode("app", bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(decode("other", &good).is_err(), "another prefix's channel");
    // Every byte flipped: an error or a message, never a panic.
    for index in 0..good.len() {
        let mut flipped = good.clone();
        flipped[index] ^= 0x5a;
        let _ = decode("app", &flipped);
    }
}
