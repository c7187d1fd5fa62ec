//! Random and mutated LZ4-flagged items through `decode`, the one parser of
//! stored bytes on the Memcached side (`notes` only fingerprints values): no
//! panic; the bytes as stored, or their decompression; and no allocation
//! beyond what LZ4 can legitimately expand to (255 times the input, the
//! bound `decompress` checks the claimed size against), whatever the claim.
//! Seeded, so a failure names a reproducible case.

use bytes::Bytes;

use super::protocol::Item;
use super::values::{decode, FLAG_LZ4};
use crate::codec::fuzz::largest_allocation;

const CASES: usize = 30_000;
const SEED: u64 = 0x0042_1a40_cafe;

fn mutate(rng: &mut fastrand::Rng, bytes: &mut Vec<u8>) {
    let len = bytes.len();
    match rng.u8(0..6) {
        0 => bytes.truncate(rng.usize(0..=len)),
        1 => bytes.extend((0..rng.usize(1..32)).map(|_| rng.u8(..))),
        2 => {
            if let Some(byte) = bytes.get_mut(rng.usize(0..len.max(1))) {
                *byte ^= 1 << rng.u8(0..8);
            }
        }
        // The claimed size: huge, random, or a little off.
        3 => {
            if len >= 4 {
                let size = match rng.u8(0..3) {
                    0 => u32::MAX,
                    1 => rng.u32(..),
                    _ => u32::from_le_bytes(bytes[..4].try_into().unwrap()).wrapping_add(1),
                };
                bytes[..4].copy_from_slice(&size.to_le_bytes());
            }
        }
        4 => {
            let at = rng.usize(0..=len);
            bytes.splice(at..at, (0..rng.usize(1..8)).map(|_| rng.u8(..)));
        }
        _ => {
            bytes.clear();
            bytes.extend((0..rng.usize(0..64)).map(|_| rng.u8(..)));
        }
    }
}

#[test]
fn random_and_mutated_compressed_items_never_panic_or_overallocate() {
    let plains: Vec<Vec<u8>> = vec![
        b"all work and no play makes jack a dull boy. ".repeat(40),
        vec![0; 5000],
        (0..=255u8).collect(),
        Vec::new(),
    ];
    let seeds: Vec<Vec<u8>> = plains
        .iter()
        .map(|plain| lz4_flex::block::compress_prepend_size(plain))
        .collect();
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut decompressed = 0;
    for case in 0..CASES {
        let mut bytes = seeds[case % seeds.len()].clone();
        if case >= seeds.len() {
            for _ in 0..rng.usize(1..=2) {
                mutate(&mut rng, &mut bytes);
            }
        }
        let stored = Bytes::from(bytes.clone());
        let item = Item {
            data: stored.clone(),
            flags: FLAG_LZ4,
            cas: 1,
        };
        let (data, largest) = largest_allocation(|| decode(item));
        let expanded = lz4_flex::block::decompress_size_prepended(&bytes).ok();
        if data != stored {
            assert_eq!(
                Some(&data[..]),
                expanded.as_deref(),
                "case {case}: {bytes:02x?}"
            );
            decompressed += 1;
        }
        if case < seeds.len() {
            assert_eq!(&data[..], &plains[case][..], "a seed decompresses");
        }
        assert!(
            largest <= 255 * bytes.len() + 1024,
            "case {case} (seed {SEED:#x}): {largest} bytes allocated for {}: {bytes:02x?}",
            bytes.len()
        );
    }
    assert!(decompressed >= seeds.len(), "{decompressed}");
}
