//! Every serde shape, scalar and compound, against ciborium.

use super::*;

#[test]
fn integers_match_ciborium() {
    for v in U64_EDGES {
        fast_and_same_key(&v);
        fast(&(v as u8));
        fast(&(v as u16));
        fast(&(v as u32));
        fast(&u128::from(v));
        fast(&i128::from(v));
    }
    for v in I64_EDGES {
        fast_and_same_key(&v);
        fast(&(v as i8));
        fast(&(v as i16));
        fast(&(v as i32));
        fast(&i128::from(v));
    }
    let big = [
        u128::from(u64::MAX) + 1,
        u128::from(u64::MAX) << 8,
        u128::MAX >> 1,
        u128::MAX - 1,
        u128::MAX,
    ];
    for v in big {
        fast_and_same_key(&v);
        fast(&(v as i128));
        fast(&-(v as i128));
    }
    for v in [
        i128::MIN,
        i128::MIN + 1,
        i128::MAX,
        -i128::from(u64::MAX),
        -i128::from(u64::MAX) - 1,
        -i128::from(u64::MAX) - 2,
        i128::from(i64::MIN),
        i128::from(i64::MIN) - 1,
    ] {
        fast_and_same_key(&v);
    }
}

#[test]
fn floats_match_ciborium() {
    let doubles = [
        0.0,
        -0.0,
        1.0,
        1.5,
        -2.5,
        0.1,
        1e300,
        -1e-300,
        65504.0,
        65505.0,
        65520.0,
        f64::from(f32::MAX),
        f64::from(f32::MIN_POSITIVE),
        f64::from(f32::MIN_POSITIVE) / 2.0,
        f64::MIN_POSITIVE,
        f64::MIN_POSITIVE / 2.0,
        5e-324,
        2f64.powi(-24),
        2f64.powi(-25),
        3.0 * 2f64.powi(-24),
        2f64.powi(-14),
        2f64.powi(-14) * 1.5,
        f64::MAX,
        f64::EPSILON,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    for v in doubles {
        fast_and_same_key(&v);
        fast(&(v as f32));
        fast(&-v);
        float(f64::from_bits(v.to_bits() + 1));
    }
    for v in [f32::MIN_POSITIVE / 4.0, f32::from_bits(1), 1.1f32, f32::MAX] {
        fast_and_same_key(&v);
    }
    // Every f16 value, as ciborium itself decodes it, and its neighbours.
    for bits in 0..=u16::MAX {
        let [high, low] = bits.to_be_bytes();
        let v: f64 = ciborium::from_reader(&[0xf9, high, low][..]).unwrap();
        if v.is_nan() {
            declined(&v);
            continue;
        }
        assert_eq!(ciborium_bytes(&v), [0xf9, high, low]);
        fast(&v);
        for flipped in [1, 1 << 29, 1 << 41, 1 << 42] {
            float(f64::from_bits(v.to_bits() ^ flipped));
        }
    }
}

#[test]
fn nan_is_declined_and_keyed_as_before() {
    for v in [
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0001),
        f64::from_bits(0x7ff8_0000_0000_0001),
        f64::from_bits(0xfff4_0000_0000_0000),
    ] {
        declined_and_same_key(&v);
        declined_and_same_key(&(v as f32));
        declined_and_same_key(&(1u8, vec![0.5, v]));
    }
    declined(&f32::from_bits(0x7fc0_0001));
}

#[test]
fn text_and_bytes_match_ciborium() {
    for length in LENGTH_EDGES {
        let text = "x".repeat(length);
        fast_and_same_key(&text);
        fast_and_same_key(&Bytes(text.as_bytes()));
    }
    for text in ["é", "日本語", "🦀 crab", "\0", "a\u{10FFFF}"] {
        fast_and_same_key(text);
    }
    for c in ['a', '\0', 'é', '€', '🦀', char::MAX] {
        fast_and_same_key(&c);
    }
    // Keys around the inline room of the buffer, which spill to the heap.
    for length in 50..80 {
        fast_and_same_key(&(1u64, "y".repeat(length), 2u8));
    }
}

#[test]
fn every_serde_shape_matches_ciborium() {
    fast_and_same_key(&true);
    fast_and_same_key(&false);
    fast_and_same_key(&());
    fast_and_same_key(&Unit);
    fast_and_same_key(&None::<u8>);
    fast_and_same_key(&Some(5u8));
    fast_and_same_key(&Some(None::<u8>));
    fast_and_same_key(&Newtype(300));
    fast_and_same_key(&Pair(-3, "pair".into()));
    fast_and_same_key(&Point {
        x: 1.0,
        y: -0.5,
        label: Some("p".into()),
    });
    fast_and_same_key(&Shape::Empty);
    fast_and_same_key(&Shape::Circle(2.5));
    fast_and_same_key(&Shape::Line(-1, 1));
    fast_and_same_key(&Shape::Rect {
        width: 3,
        height: 400,
    });
    fast_and_same_key(&vec![Shape::Empty, Shape::Circle(0.0)]);
    fast_and_same_key(&Unsized(vec![1, 2, 3]));
    fast_and_same_key(&Unsized(Vec::new()));
    let btree: BTreeMap<String, u32> = (0..30).map(|i| (format!("k{i}"), i)).collect();
    fast_and_same_key(&Unsized(btree.clone()));
    fast_and_same_key(&btree);
    fast_and_same_key(&BTreeMap::<u8, u8>::new());
    let hash: HashMap<u64, Vec<String>> = (0..40).map(|i| (i, vec![i.to_string()])).collect();
    fast_and_same_key(&hash);
    fast_and_same_key(&(1u8, ("nested", [1u16, 2, 3], vec![vec![(); 2]; 3])));
    fast_and_same_key(&((), ((), ((),))));
    for length in LENGTH_EDGES {
        fast_and_same_key(&vec![0u8; length]);
    }
    fast_and_same_key(&vec![Some(1u8); 24]);
    fast_and_same_key(&[Some(btree), None]);
}

#[test]
fn ciborium_tags_are_declined_and_keyed_as_before() {
    use ciborium::tag::{Accepted, Captured, Required};
    use ciborium::value::Value;
    declined_and_same_key(&Required::<u64, 32>(1));
    declined_and_same_key(&Accepted::<u64, 32>(1));
    declined_and_same_key(&Captured(Some(7), 1u8));
    declined_and_same_key(&Captured(None, 1u8));
    declined_and_same_key(&Value::Tag(5, Box::new(Value::Integer(1.into()))));
    fast_and_same_key(&Value::Array(vec![Value::Integer(1.into()), Value::Null]));
    fast_and_same_key(&Value::Map(vec![(Value::Bool(true), Value::Float(0.5))]));
}
