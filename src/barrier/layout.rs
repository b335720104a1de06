//! The barrier's state word: its fields, the helpers that read and build
//! them, and the invariant every transition keeps.
//!
//! | bits (64-bit) | bits (narrow) | field       | meaning                                          |
//! |---------------|---------------|-------------|--------------------------------------------------|
//! | 0..16         | 0..10         | `count`     | parties arrived in this generation and not yet gone; `== parties` while the action runs ("full") |
//! | 16            | 10            | `SLEEPERS`  | some thread is parked (or about to) on the futex word |
//! | 17            | 11            | `BROKEN`    | broken (on a full generation: "break the next")  |
//! | 18            | 12            | `RESETTING` | `reset()` broke waiting parties; they are leaving |
//! | 19..64        | 13..32        | `gen`       | generation number, wrapping (45 or 19 bits)      |
//!
//! The narrow layout is used on targets without 64-bit atomics, and on any
//! target built with `RUSTFLAGS="--cfg rallypoint_narrow_state"` (so that it
//! is tested natively on the host). Its 19-bit `gen` would wrap within a
//! long stall; `lag.rs` keeps a stalled waiter from ever seeing its
//! generation number again (SAFETY.md, "Barrier: wrap-around").

#[cfg(not(any(rallypoint_narrow_state, not(target_has_atomic = "64"))))]
mod width {
    pub(crate) type Word = u64;
    pub(crate) use crate::sync::AtomicU64 as AtomicWord;
    /// Bits of the `count` field.
    pub(crate) const COUNT_BITS: u32 = 16;
    /// Bits of the `gen` field: all the rest.
    pub(crate) const GEN_BITS: u32 = 64 - COUNT_BITS - 3;
    pub(crate) const TOO_MANY_PARTIES: &str =
        "Barrier: parties exceeds Barrier::MAX_PARTIES (65535 on this target)";
}

#[cfg(any(rallypoint_narrow_state, not(target_has_atomic = "64")))]
mod width {
    pub(crate) type Word = u32;
    pub(crate) use crate::sync::AtomicU32 as AtomicWord;
    /// Bits of the `count` field.
    pub(crate) const COUNT_BITS: u32 = 10;
    /// Bits of the `gen` field: all the rest, or (test-only,
    /// `--cfg rallypoint_tiny_gen`) just 1, so that loom models and tests
    /// reach every wrap-around case within a few generations.
    #[cfg(not(rallypoint_tiny_gen))]
    pub(crate) const GEN_BITS: u32 = 32 - COUNT_BITS - 3;
    #[cfg(rallypoint_tiny_gen)]
    pub(crate) const GEN_BITS: u32 = 1;
    pub(crate) const TOO_MANY_PARTIES: &str =
        "Barrier: parties exceeds Barrier::MAX_PARTIES (1023 on this target)";
}

pub(crate) use width::{AtomicWord, Word, COUNT_BITS, GEN_BITS, TOO_MANY_PARTIES};

/// Mask of the `count` field.
pub(crate) const COUNT_MASK: Word = (1 << COUNT_BITS) - 1;
/// A thread is parked, or about to park, on the futex word.
pub(crate) const SLEEPERS: Word = 1 << COUNT_BITS;
/// The barrier is broken (on a full generation: the next one will be).
pub(crate) const BROKEN: Word = 1 << (COUNT_BITS + 1);
/// `reset()` broke the waiting parties; they are leaving.
pub(crate) const RESETTING: Word = 1 << (COUNT_BITS + 2);
/// The lowest bit of the `gen` field.
pub(crate) const GEN_ONE: Word = 1 << (COUNT_BITS + 3);
/// Mask of the `gen` field.
pub(crate) const GEN_MASK: Word = (Word::MAX >> (Word::BITS - GEN_BITS)) << (COUNT_BITS + 3);
/// The top bit of `gen`: which half of the generation space a generation
/// lies in (the narrow layout's straggler accounting, `lag.rs`).
#[cfg_attr(
    not(any(rallypoint_narrow_state, not(target_has_atomic = "64"))),
    allow(dead_code)
)]
pub(crate) const GEN_TOP: Word = GEN_ONE << (GEN_BITS - 1);

/// The `count` field.
#[inline]
pub(crate) const fn count(word: Word) -> usize {
    (word & COUNT_MASK) as usize
}

/// The `gen` field, in place (not shifted down).
#[inline]
pub(crate) const fn generation(word: Word) -> Word {
    word & GEN_MASK
}

/// Broken, or being reset: the current generation has failed.
#[inline]
pub(crate) const fn is_failed(word: Word) -> bool {
    word & (BROKEN | RESETTING) != 0
}

/// The word of the next generation: `gen + 1` (wrapping), count 0, no flags.
#[inline]
pub(crate) const fn next_generation(word: Word) -> Word {
    generation(word).wrapping_add(GEN_ONE) & GEN_MASK
}

/// The word of a fresh generation after a break whose parties have all
/// departed: the same `gen` (nobody who waited in the broken one is left to
/// confuse the two), count 0, no flags. Only releases move `gen`.
#[inline]
pub(crate) const fn fresh_generation(word: Word) -> Word {
    generation(word)
}

/// The word with one party gone (`count - 1`), or `None` if `count` is 0:
/// a transition that would underflow into the flags refuses instead.
#[inline]
pub(crate) const fn one_gone(word: Word) -> Option<Word> {
    if count(word) == 0 {
        None
    } else {
        Some(word - 1)
    }
}

/// Which half of the generation space `word`'s generation lies in: 0 or 1.
#[inline]
#[cfg_attr(
    not(any(rallypoint_narrow_state, not(target_has_atomic = "64"))),
    allow(dead_code)
)]
pub(crate) const fn half(word: Word) -> usize {
    (word & GEN_TOP != 0) as usize
}

/// Whether `word` has no bit outside the fields (only the test-only tiny
/// `gen` leaves bits unused).
#[inline]
const fn fits(word: Word) -> bool {
    const USED: Word = COUNT_MASK | SLEEPERS | BROKEN | RESETTING | GEN_MASK;
    word | USED == USED
}

/// Why `word` is not a state a barrier of `parties` can be in, if it is not.
///
/// Checked on every transition in debug and loom builds
/// (`Barrier::transition`); the transitions themselves are written so that
/// none can produce such a word (`one_gone` refuses instead of
/// underflowing, arrivals refuse a full generation).
pub(crate) fn invalid(word: Word, parties: usize) -> Option<&'static str> {
    let n = count(word);
    if n > parties {
        Some("count exceeds parties")
    } else if !fits(word) {
        Some("bits outside every field")
    } else if word & BROKEN != 0 && word & RESETTING != 0 {
        Some("BROKEN and RESETTING together")
    } else if word & RESETTING != 0 && (n == 0 || n == parties) {
        Some("RESETTING with no victim left, or on a full generation")
    } else {
        None
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fields_do_not_overlap_and_cover_the_word() {
        let fields = [COUNT_MASK, SLEEPERS, BROKEN, RESETTING, GEN_MASK];
        let mut all: Word = 0;
        for f in fields {
            assert_eq!(all & f, 0, "field {f:#x} overlaps");
            all |= f;
        }
        // Every bit belongs to a field, but for the test-only tiny `gen`.
        #[cfg(not(rallypoint_tiny_gen))]
        assert_eq!(all, Word::MAX, "every bit belongs to a field");
        assert_eq!(GEN_MASK.count_ones(), GEN_BITS);
        assert_eq!(GEN_TOP & GEN_MASK, GEN_TOP);
        assert_eq!(
            GEN_TOP.trailing_zeros() + 1,
            Word::BITS - GEN_MASK.leading_zeros()
        );
    }

    #[test]
    fn count_never_carries_into_flags() {
        let w = generation(Word::MAX) | COUNT_MASK;
        assert_eq!(w & (SLEEPERS | BROKEN | RESETTING), 0);
        assert_eq!(
            one_gone(GEN_ONE | SLEEPERS | BROKEN),
            None,
            "count 0 must refuse"
        );
        assert_eq!(one_gone(GEN_ONE | BROKEN | 1), Some(GEN_ONE | BROKEN));
    }

    #[test]
    fn generation_wraps_to_zero_and_clears_everything_else() {
        let top = GEN_MASK | SLEEPERS | BROKEN | 7;
        assert_eq!(next_generation(top), 0);
        assert_eq!(next_generation(5 | SLEEPERS), GEN_ONE & GEN_MASK);
    }

    #[test]
    fn half_flips_twice_per_wrap() {
        assert_eq!(half(GEN_TOP - GEN_ONE), 0);
        assert_eq!(half(GEN_TOP), 1);
        assert_eq!(half(next_generation(GEN_MASK)), 0);
        if GEN_BITS > 24 {
            return; // The 64-bit layout: 2^45 steps are too many to walk.
        }
        let mut w: Word = 0;
        let mut flips = 0;
        let mut steps: u64 = 0;
        loop {
            let next = next_generation(w);
            flips += usize::from(half(next) != half(w));
            w = next;
            steps += 1;
            if w == 0 {
                break;
            }
        }
        assert_eq!(steps, 1u64 << GEN_BITS);
        assert_eq!(flips, 2);
    }

    #[test]
    fn invariant_rejects_corrupt_words() {
        let p = 3;
        assert_eq!(invalid(GEN_ONE | 2, p), None);
        assert_eq!(invalid(GEN_ONE | 3 | BROKEN, p), None, "pending abort");
        assert!(invalid(4, p).is_some());
        assert!(invalid(1 | BROKEN | RESETTING, p).is_some());
        assert!(invalid(RESETTING, p).is_some());
        assert!(invalid(3 | RESETTING, p).is_some());
        // What the old timeout path made of a count-0 word: 0 - 1.
        assert!(invalid((GEN_ONE | BROKEN).wrapping_sub(1), p).is_some());
    }

    /// Builds a word from fields (tests only: the code never needs it).
    fn pack(gen: Word, count: usize, flags: Word) -> Word {
        (gen << GEN_ONE.trailing_zeros()) | flags | count as Word
    }

    const GEN_LIMIT: Word = GEN_MASK >> (COUNT_BITS + 3);
    const MAX: usize = COUNT_MASK as usize;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(if cfg!(miri) { 16 } else { 256 }))]

        #[test]
        fn fields_round_trip_and_never_overflow(
            gen in 0..=GEN_LIMIT,
            count_ in 0..=MAX,
            flags in proptest::sample::select(&[0, SLEEPERS, BROKEN, RESETTING, SLEEPERS | BROKEN, SLEEPERS | RESETTING][..]),
        ) {
            let w = pack(gen, count_, flags);
            proptest::prop_assert_eq!(count(w), count_);
            proptest::prop_assert_eq!(generation(w) >> (COUNT_BITS + 3), gen);
            proptest::prop_assert_eq!(w & (SLEEPERS | BROKEN | RESETTING), flags);
            proptest::prop_assert_eq!(is_failed(w), flags & (BROKEN | RESETTING) != 0);
            // The next generation: gen + 1 (wrapping), nothing else.
            let next = next_generation(w);
            proptest::prop_assert_eq!(next, pack((gen + 1) & GEN_LIMIT, 0, 0));
            // Arrival (+1) below the maximum never touches flags or gen.
            if count_ < MAX {
                proptest::prop_assert_eq!(generation(w + 1), generation(w));
                proptest::prop_assert_eq!((w + 1) & (SLEEPERS | BROKEN | RESETTING), flags);
            }
            // Departure (-1) never underflows into flags or gen.
            match one_gone(w) {
                None => proptest::prop_assert_eq!(count_, 0),
                Some(d) => {
                    proptest::prop_assert_eq!(count(d), count_ - 1);
                    proptest::prop_assert_eq!(d & !COUNT_MASK, w & !COUNT_MASK);
                }
            }
        }
    }
}
