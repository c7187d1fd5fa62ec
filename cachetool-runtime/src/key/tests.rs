//! Keys: their shape, and the hash pinned across releases.

use serde::Serialize;

use super::args::hex128;
use super::site::function_path;
use super::*;

/// The key part of one value, through ciborium directly.
fn hash_of<T: Serialize + ?Sized>(value: &T) -> KeyPart {
    let mut encoding = Vec::new();
    ciborium::into_writer(value, &mut encoding).unwrap();
    hash_encoding(&encoding)
}

#[test]
fn function_path_drops_marker_and_companion_suffix() {
    assert_eq!(
        function_path(
            "app::users::load_user_refresh::__cachetool_site",
            "_refresh"
        ),
        "app.users.load_user"
    );
    assert_eq!(
        function_path("<app::Repo<u8> as app::Tr>::get::__cachetool_site", ""),
        "<app.Repo<u8> as app.Tr>.get"
    );
    assert_eq!(
        function_path(
            "app::Repo::load_invalidate::{{closure}}::__cachetool_site",
            "_invalidate"
        ),
        "app.Repo.load"
    );
}

#[test]
fn hash_is_cbor_xxh3_and_stable() {
    // Pinned: a change here orphans every stored entry of every user.
    let part = KeyArgs::new(2).arg(&1u64).arg("a").finish();
    let mut cbor = Vec::new();
    ciborium::into_writer(&(1u64, "a"), &mut cbor).unwrap();
    assert_eq!(cbor, [0x82, 0x01, 0x61, b'a']);
    // The hash itself, written out: a change of the encoder, of the hash
    // function or of its crate shows here.
    assert_eq!(part.to_string(), "46c7a659de89e99f4e59b3cc51b483c3");
    assert_eq!(part, KeyPart::Hash(0x46c7a659de89e99f4e59b3cc51b483c3));
    assert_eq!(hex128(0xab), format!("{:032x}", 0xabu128));
    assert_eq!(hex128(u128::MAX), "f".repeat(32));
    let mut rng = fastrand::Rng::with_seed(6);
    for _ in 0..1000 {
        let hash = rng.u128(..);
        assert_eq!(hex128(hash), format!("{hash:032x}"));
    }
    let digits = (0..16u128).fold(0, |all, digit| all << 8 | digit);
    assert_eq!(hex128(digits), format!("{digits:032x}"));
}

#[test]
fn key_args_encode_exactly_as_the_tuple() {
    let by_args = KeyArgs::new(3)
        .arg(&1u64)
        .arg("a")
        .arg(&vec![1.5f64])
        .finish();
    assert_eq!(by_args, hash_of(&(1u64, "a", vec![1.5f64])));
    assert_eq!(KeyArgs::new(0).finish(), hash_of(&Vec::<u8>::new()));
    let many: Vec<u8> = (0..300).map(|i| i as u8).collect();
    let mut args = KeyArgs::new(many.len());
    for item in &many {
        args.arg(item);
    }
    assert_eq!(args.finish(), hash_of(&many));
}

#[test]
fn keys_have_the_documented_shape() {
    let namespace = Namespace::new("app");
    let entry = namespace.entry_key(
        "m.f",
        None,
        &["alloc::string::String"],
        &KeyPart::Custom("a:b c".into()),
    );
    assert_eq!(entry, "app:entry:m.f<alloc.string.String>:a:b c");
    assert_eq!(
        namespace.lock_key(&entry),
        "app:lock:m.f<alloc.string.String>:a:b c"
    );
    assert_eq!(namespace.tag_key("user:7"), "app:tag:user:7");
    let tags = TagKeys::new("old".into(), &namespace, &["a", "user:7", ""]);
    let keys: Vec<&str> = tags.iter().collect();
    assert_eq!(keys, ["app:tag:a", "app:tag:user:7", "app:tag:"]);
    assert_eq!(
        TagKeys::new(String::new(), &namespace, &[]).iter().count(),
        0
    );
    assert_eq!(namespace.epoch_key(), "app:epoch");
    let method = namespace.entry_key("m.W<_>.get", Some("m::W<u8>"), &["u16"], &KeyPart::Hash(0));
    assert_eq!(
        method,
        format!("app:entry:m.W<_>.get<m.W<u8>,u16>:{}", "0".repeat(32))
    );
}

#[test]
fn self_is_keyed_only_where_the_path_does_not_name_it() {
    fn marker() -> &'static str {
        "app::Repo::get::__cachetool_site"
    }
    fn generic_marker() -> &'static str {
        "app::Wrapper<_>::get::__cachetool_site"
    }
    fn trait_default_marker() -> &'static str {
        "app::Trait::get::__cachetool_site"
    }
    assert!(!Site::new(marker, "", None, 0, true).keys_self("app::Repo"));
    assert!(Site::new(generic_marker, "", None, 0, true).keys_self("app::Wrapper<u8>"));
    assert!(Site::new(trait_default_marker, "", None, 0, true).keys_self("app::Repo"));
    assert!(!Site::new(trait_default_marker, "", Some("named"), 0, true).keys_self("app::Repo"));
}
