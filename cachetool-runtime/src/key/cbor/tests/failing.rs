//! `Serialize` impls that fail, miscount or swallow errors, and wrong
//! argument counts: keyed as before the fast encoder.

use super::*;

/// Fails to serialize, as a user's `Serialize` may.
struct Refuses;

impl Serialize for Refuses {
    fn serialize<S: Serializer>(&self, _serializer: S) -> Result<S::Ok, S::Error> {
        Err(S::Error::custom("no key for you"))
    }
}

#[test]
fn a_failing_serialize_is_unkeyable_with_ciboriums_message() {
    let part = KeyArgs::new(2).arg(&1u8).arg(&vec![Refuses]).finish();
    assert_eq!(part, KeyPart::Unkeyable("Value(\"no key for you\")".into()));
    assert_eq!(part, reference_part(&(1u8, vec![Refuses])));
    // Failing after a decline (NaN) goes through ciborium, same message.
    assert_eq!(
        KeyArgs::new(1).arg(&(f64::NAN, Refuses)).finish(),
        reference_part(&((f64::NAN, Refuses),))
    );
    // The first failure wins; later arguments are not looked at.
    assert_eq!(
        KeyArgs::new(3)
            .arg(&Refuses)
            .arg(&f64::NAN)
            .arg(&Refuses)
            .finish(),
        reference_part(&(Refuses, f64::NAN, Refuses))
    );
    let mut buffer = KeyBuffer::new();
    assert_eq!(
        write(&Some(Refuses), &mut buffer),
        Written::Failed("Value(\"no key for you\")".into())
    );
}

/// Announces `announced` items and writes `items`; swallows its items' errors.
struct Careless {
    announced: Option<usize>,
    items: Vec<f64>,
}

impl Serialize for Careless {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(self.announced)?;
        for item in &self.items {
            let _ = seq.serialize_element(item);
        }
        seq.end()
    }
}

#[test]
fn miscounted_or_swallowing_serialize_is_keyed_as_before() {
    for (announced, items) in [
        (Some(3), vec![1.0, 2.0]),
        (Some(1), vec![1.0, 2.0]),
        (Some(0), vec![1.0]),
        (Some(2), vec![f64::NAN, 2.0]),
        (None, vec![f64::NAN, 2.0]),
    ] {
        let careless = Careless { announced, items };
        declined(&careless);
        for last in [0u8, 1] {
            assert_eq!(
                KeyArgs::new(2).arg(&careless).arg(&last).finish(),
                reference_part(&(&careless, last)),
            );
        }
    }
}

#[test]
fn a_wrong_argument_count_is_keyed_as_before() {
    let map = BTreeMap::from([(2u8, 3u8)]);
    // Before: the header of `count`, then each argument's ciborium bytes.
    let old =
        |count: u8, args: &[&[u8]]| hash_encoding(&[&[0x80 | count][..], &args.concat()].concat());
    let one = ciborium_bytes(&1u8);
    let with_map = ciborium_bytes(&map);
    assert_eq!(
        KeyArgs::new(1).arg(&1u8).arg(&map).finish(),
        old(1, &[&one, &with_map])
    );
    assert_eq!(
        KeyArgs::new(1).arg(&1u8).arg(&1u8).finish(),
        old(1, &[&one, &one])
    );
    assert_eq!(KeyArgs::new(3).arg(&1u8).finish(), old(3, &[&one]));
}
