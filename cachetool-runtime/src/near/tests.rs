//! The near tier's coherence rules, event by event, with no server: what
//! the change channel's events do to entries, and to fills whose remote
//! read they may have overtaken.

use std::time::Duration;

use smallvec::smallvec;

use super::NearTier;
use crate::changes::{Change, Event, Message};
use crate::key::CallId;
use crate::local::tag_hash;

const CALL: CallId = CallId {
    function: 7,
    args: 70,
};
const OTHER: CallId = CallId {
    function: 7,
    args: 71,
};

fn listening_tier() -> NearTier {
    let near = NearTier::unsubscribed("near-tests", 100, None);
    near.shared.apply(&Event::Listening);
    near
}

fn changed(near: &NearTier, change: Change) {
    let message = Message {
        origin: 1,
        changes: vec![change],
    };
    near.shared.apply(&Event::Changed(&message));
}

/// Fills `call` with `value`, read after a start taken now, tagged `tags`.
fn fill_now(near: &NearTier, call: CallId, tags: &[&str], value: u64) {
    let tags: Vec<u64> = tags.iter().map(|tag| tag_hash(tag)).collect();
    let start = near.start(call, &tags).expect("listening");
    near.fill(&start, call, &value, None);
}

#[test]
fn nothing_is_read_or_filled_before_the_channel_is_up() {
    let near = NearTier::unsubscribed("near-tests", 100, None);
    assert!(near.start(CALL, &[]).is_none(), "no fill without a channel");
    near.shared.apply(&Event::Listening);
    fill_now(&near, CALL, &[], 1);
    assert_eq!(near.value::<u64>(CALL), Some(1));
}

#[test]
fn a_lost_channel_empties_the_tier_and_stops_its_use_until_it_is_back() {
    let near = listening_tier();
    fill_now(&near, CALL, &[], 1);
    let before_loss = near.start(OTHER, &[]).expect("listening");
    near.shared.apply(&Event::Lost);
    assert!(!near.listening());
    assert_eq!(near.value::<u64>(CALL), None);
    assert!(near.start(CALL, &[]).is_none(), "no fill while lost");
    near.shared.apply(&Event::Listening);
    assert_eq!(near.value::<u64>(CALL), None, "emptied, not restored");
    // A read made before the loss may have missed a change: not kept.
    near.fill(&before_loss, OTHER, &2u64, None);
    assert_eq!(near.value::<u64>(OTHER), None);
}

#[test]
fn an_entry_change_drops_the_entry_and_the_fills_it_overtook() {
    let near = listening_tier();
    fill_now(&near, CALL, &[], 1);
    fill_now(&near, OTHER, &[], 2);
    let overtaken = near.start(CALL, &[]).expect("listening");
    changed(&near, Change::Entry(smallvec![CALL]));
    assert_eq!(near.value::<u64>(CALL), None);
    assert_eq!(near.value::<u64>(OTHER), Some(2), "another entry stays");
    near.fill(&overtaken, CALL, &3u64, None);
    assert_eq!(
        near.value::<u64>(CALL),
        None,
        "read before the change: not kept"
    );
    fill_now(&near, CALL, &[], 4);
    assert_eq!(near.value::<u64>(CALL), Some(4), "read after it: kept");
}

#[test]
fn a_tag_change_drops_its_entries_only() {
    let near = listening_tier();
    fill_now(&near, CALL, &["user:1"], 1);
    fill_now(&near, OTHER, &["user:2"], 2);
    let overtaken = near.start(OTHER, &[]).expect("listening");
    changed(
        &near,
        Change::Tag {
            tag: tag_hash("user:1"),
            version: None,
        },
    );
    assert_eq!(near.value::<u64>(CALL), None);
    assert_eq!(near.value::<u64>(OTHER), Some(2));
    near.fill(&overtaken, OTHER, &3u64, None);
    assert_eq!(
        near.value::<u64>(OTHER),
        Some(2),
        "a fill that a clean overtook"
    );
}

#[test]
fn an_unreadable_message_drops_everything_and_the_fills_it_overtook() {
    let near = listening_tier();
    fill_now(&near, CALL, &[], 1);
    let overtaken = near.start(OTHER, &[]).expect("listening");
    near.shared.apply(&Event::Unreadable);
    assert!(near.listening(), "the channel is still up");
    assert_eq!(near.value::<u64>(CALL), None);
    near.fill(&overtaken, OTHER, &2u64, None);
    assert_eq!(near.value::<u64>(OTHER), None);
}

#[test]
fn an_epoch_change_or_an_unnamed_entry_drops_everything() {
    for change in [Change::Epoch { version: None }, Change::UnnamedEntry] {
        let near = listening_tier();
        fill_now(&near, CALL, &[], 1);
        fill_now(&near, OTHER, &["user:2"], 2);
        changed(&near, change.clone());
        assert_eq!(near.value::<u64>(CALL), None, "{change:?}");
        assert_eq!(near.value::<u64>(OTHER), None, "{change:?}");
    }
}

#[test]
fn this_processs_changes_apply_at_once_to_every_tier_of_the_prefix() {
    let prefix = "near-tests-own-changes";
    let tiers = [
        NearTier::unsubscribed(prefix, 100, None),
        NearTier::unsubscribed(prefix, 100, None),
    ];
    let elsewhere = NearTier::unsubscribed("near-tests-another-prefix", 100, None);
    for near in tiers.iter().chain([&elsewhere]) {
        near.shared.apply(&Event::Listening);
        fill_now(near, CALL, &["user:1"], 1);
        fill_now(near, OTHER, &[], 2);
    }
    let overtaken = tiers[0].start(CALL, &[]).expect("listening");
    super::drop_copies(prefix, CALL);
    for near in &tiers {
        assert_eq!(near.value::<u64>(CALL), None);
    }
    tiers[0].fill(&overtaken, CALL, &3u64, None);
    assert_eq!(tiers[0].value::<u64>(CALL), None, "read before the change");
    for near in &tiers {
        fill_now(near, CALL, &["user:1"], 4);
    }
    super::clean_tags_everywhere(prefix, [tag_hash("user:1")].into_iter());
    for near in &tiers {
        assert_eq!(near.value::<u64>(CALL), None);
        assert_eq!(near.value::<u64>(OTHER), Some(2));
    }
    super::new_epoch_everywhere(prefix);
    for near in &tiers {
        assert_eq!(near.value::<u64>(OTHER), None);
    }
    // Another prefix's tier is untouched.
    assert_eq!(elsewhere.value::<u64>(CALL), Some(1));
    assert_eq!(elsewhere.value::<u64>(OTHER), Some(2));
}

#[test]
fn an_entry_lives_no_longer_than_local_ttl_nor_its_remote_freshness() {
    let near = NearTier::unsubscribed("near-tests", 100, Some(Duration::from_secs(3600)));
    near.shared.apply(&Event::Listening);
    let start = near.start(CALL, &[]).expect("listening");
    // Its remote entry stopped being a plain hit already: nothing kept.
    near.fill(&start, CALL, &1u64, Some(Duration::ZERO));
    assert_eq!(near.value::<u64>(CALL), None);
    let near = NearTier::unsubscribed("near-tests", 100, Some(Duration::from_nanos(1)));
    near.shared.apply(&Event::Listening);
    // `local_ttl` of a nanosecond: past by the time of the read, whether
    // the remote entry has no TTL or a longer one.
    for fresh_for in [None, Some(Duration::from_secs(3600))] {
        let start = near.start(CALL, &[]).expect("listening");
        near.fill(&start, CALL, &1u64, fresh_for);
        assert_eq!(near.value::<u64>(CALL), None, "{fresh_for:?}");
    }
    // And a long `local_ttl` keeps what its remote entry keeps.
    let near = NearTier::unsubscribed("near-tests", 100, Some(Duration::from_secs(3600)));
    near.shared.apply(&Event::Listening);
    let start = near.start(CALL, &[]).expect("listening");
    near.fill(&start, CALL, &1u64, Some(Duration::from_secs(3600)));
    assert_eq!(near.value::<u64>(CALL), Some(1));
}
