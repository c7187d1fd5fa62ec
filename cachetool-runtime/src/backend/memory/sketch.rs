//! The frequency sketch of W-TinyLFU: how often each key was used lately,
//! estimated in a fixed amount of memory.
//!
//! A count-min sketch of 4-bit counters, laid out as Caffeine's: sixteen
//! counters per 64-bit word, four rows per key, and all four of a key's
//! counters in one 64-byte block, so that counting a use touches one cache
//! line, not four (the sketch of a large cache is megabytes: four lines were
//! four cache misses on every hit). It ages: once it has counted ten times as
//! many uses as the shard holds keys, every counter is halved, so that what
//! was popular long ago fades.

/// The estimated use counts of the keys of one shard.
pub(super) struct FrequencySketch {
    /// Sixteen 4-bit counters per word, eight words per block; the number of
    /// blocks is a power of two.
    table: Box<[Block]>,
    /// Uses counted since the last halving (those that raised some counter).
    additions: usize,
    /// When `additions` reaches this, every counter is halved.
    sample_size: usize,
    /// How many keys it was sized for.
    sized_for: usize,
}

/// The highest value of a 4-bit counter.
const MAX_COUNT: u64 = 15;
/// Each counter halved is shifted right by one; this mask drops the bit that
/// would spill into the counter below.
const HALF_MASK: u64 = 0x7777_7777_7777_7777;
/// The lowest bit of each counter: the odd counters lose a half when halved.
const LOW_BITS: u64 = 0x1111_1111_1111_1111;
/// One multiplier per row, so that the rows pick independent words.
const ROW_SEEDS: [u64; 4] = [
    0xc3a5_c85c_97cb_3127,
    0xb492_b66f_be98_f273,
    0x9ae1_6a3b_2f90_404f,
    0xcbf2_9ce4_8422_2325,
];
/// Beyond this many words (512 MiB) the table stops growing with the capacity.
const MAX_WORDS: usize = 1 << 26;

/// Eight words, one cache line: where all the counters of a key are.
#[derive(Clone, Copy, Default)]
#[repr(align(64))]
struct Block([u64; BLOCK_WORDS]);

const BLOCK_WORDS: usize = 8;

impl FrequencySketch {
    /// A sketch for a shard of `capacity` keys: about one word (sixteen
    /// counters) per key, as Caffeine sizes it.
    pub(super) fn new(capacity: usize) -> FrequencySketch {
        let words = capacity.clamp(1, MAX_WORDS).next_power_of_two();
        let blocks = words.div_ceil(BLOCK_WORDS);
        FrequencySketch {
            table: vec![Block::default(); blocks].into_boxed_slice(),
            additions: 0,
            sample_size: capacity.max(1).saturating_mul(10),
            sized_for: capacity,
        }
    }

    /// How many keys it was sized for.
    pub(super) fn sized_for(&self) -> usize {
        self.sized_for
    }

    /// The estimated number of uses of the key with this hash: never fewer
    /// than counted since the last halving (up to 15), more when other keys
    /// share all four of its counters.
    pub(super) fn frequency(&self, hash: u64) -> u8 {
        let spread = spread(hash);
        (0..4)
            .map(|row| {
                let (block, word, shift) = self.position(spread, row);
                (self.table[block].0[word] >> shift) & MAX_COUNT
            })
            .min()
            .unwrap_or(0) as u8
    }

    /// Counts one use of the key with this hash.
    pub(super) fn increment(&mut self, hash: u64) {
        let spread = spread(hash);
        let mut raised = false;
        for row in 0..4 {
            let (block, word, shift) = self.position(spread, row);
            let word = &mut self.table[block].0[word];
            if (*word >> shift) & MAX_COUNT < MAX_COUNT {
                *word += 1 << shift;
                raised = true;
            }
        }
        // A key whose counters are all saturated does not bring the halving closer:
        // a key read on every call would otherwise age everyone else's counts.
        if raised {
            self.additions += 1;
            if self.additions >= self.sample_size {
                self.halve();
            }
        }
    }

    /// Halves every counter, rounding down.
    fn halve(&mut self) {
        let mut odd_counters = 0;
        for word in self.table.iter_mut().flat_map(|block| &mut block.0) {
            odd_counters += (*word & LOW_BITS).count_ones() as usize;
            *word = (*word >> 1) & HALF_MASK;
        }
        // Each use raised four counters: the halves lost to rounding down are
        // taken off the uses, a quarter each (Caffeine's accounting).
        self.additions = self.additions.saturating_sub(odd_counters / 4) / 2;
    }

    /// The block, the word in it and the bit shift of the counter of `row`
    /// for a spread hash.
    fn position(&self, spread: u64, row: usize) -> (usize, usize, u32) {
        // The high half of the hash picks the key's block; the low two bits one
        // of four groups of four counters in each word, and each row takes its
        // own counter of the group, in a word of the block its own row hash picks.
        let block = (spread >> 32) as usize & (self.table.len() - 1);
        let group = (spread & 3) as u32;
        let mut hash = spread
            .wrapping_add(ROW_SEEDS[row])
            .wrapping_mul(ROW_SEEDS[row]);
        hash ^= hash >> 29;
        let word = hash as usize & (BLOCK_WORDS - 1);
        (block, word, (group * 4 + row as u32) * 4)
    }
}

/// The key's xxh3 hash, remixed: the shard index is bits 32.. of the hash
/// (equal for every key of a shard) and the map uses the low bits, so the
/// sketch takes its indexes from a full avalanche of all 64 (the SplitMix64
/// finalizer).
fn spread(hash: u64) -> u64 {
    let mut z = hash ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn estimates_never_under_count_before_halving() {
        // 2,000 uses of a sketch that halves after 10 × 1,000: no halving yet.
        let mut sketch = FrequencySketch::new(1000);
        let mut rng = fastrand::Rng::with_seed(7);
        let mut counts: HashMap<u64, u64> = HashMap::new();
        for _ in 0..2000 {
            let hash = rng.u64(..300);
            sketch.increment(hash);
            *counts.entry(hash).or_default() += 1;
        }
        let mut exact = 0;
        for (&hash, &count) in &counts {
            let estimate = u64::from(sketch.frequency(hash));
            assert!(
                estimate >= count.min(MAX_COUNT),
                "{hash}: {estimate} < {count}"
            );
            exact += usize::from(estimate == count.min(MAX_COUNT));
        }
        // Over-counting comes from collisions only, rare in a sketch this wide.
        assert!(
            exact * 10 >= counts.len() * 9,
            "{exact} of {}",
            counts.len()
        );
        assert_eq!(sketch.frequency(u64::MAX), 0);
    }

    #[test]
    fn counters_saturate_at_fifteen() {
        let mut sketch = FrequencySketch::new(100);
        for _ in 0..40 {
            sketch.increment(42);
        }
        assert_eq!(sketch.frequency(42), 15);
    }

    #[test]
    fn halving_halves_every_counter() {
        let mut sketch = FrequencySketch::new(1000);
        for _ in 0..12 {
            sketch.increment(1);
        }
        for _ in 0..5 {
            sketch.increment(2);
        }
        sketch.increment(3);
        assert_eq!(
            (
                sketch.frequency(1),
                sketch.frequency(2),
                sketch.frequency(3)
            ),
            (12, 5, 1)
        );
        sketch.halve();
        assert_eq!(
            (
                sketch.frequency(1),
                sketch.frequency(2),
                sketch.frequency(3)
            ),
            (6, 2, 0)
        );
    }

    #[test]
    fn halving_comes_after_ten_uses_per_key() {
        // One key in a one-key sketch: its four counters share the one word.
        let mut sketch = FrequencySketch::new(1);
        for _ in 0..9 {
            sketch.increment(5);
        }
        assert_eq!(sketch.frequency(5), 9);
        sketch.increment(5);
        assert_eq!(sketch.frequency(5), 5);
    }

    #[test]
    fn a_saturated_key_does_not_age_the_others() {
        let mut sketch = FrequencySketch::new(4);
        sketch.increment(7);
        for _ in 0..1000 {
            sketch.increment(1);
        }
        // 1,000 uses, 40 to reach halving: only the first 15 raised a counter.
        assert_eq!(sketch.frequency(7), 1);
    }
}
