//! The phaser's state word: its fields, the helpers that read and build
//! them, and the invariant every transition keeps.
//!
//! | bits   | field       | meaning                                                      |
//! |--------|-------------|--------------------------------------------------------------|
//! | 0..16  | `arrived`   | arrivals in the current phase (`== parties` while `ADVANCING`) |
//! | 16..32 | `parties`   | registered parties of the current phase (a drop takes effect at once: Java's `arriveAndDeregister`) |
//! | 32     | `SLEEPERS`  | some thread is parked (or about to) on the futex word        |
//! | 33     | `BROKEN`    | broken; with `ADVANCING`: "the next phase is broken"         |
//! | 34     | `ADVANCING` | the phase is complete and its completing arrival runs the action |
//! | 35     | `RESETTING` | a `reset()` owns the broken phase and is recording it        |
//! | 36..64 | `phase`     | phase number, wrapping (28 bits)                             |
//!
//! `MAX_PARTIES` is 65 535, so neither count can carry into its neighbour.
//! The phase has what is left, 28 bits (API.md: at least 2^28 phases before
//! a number repeats); SAFETY.md, "Phaser: wrap-around", gives the bound.

/// The state word's type.
pub(super) type Word = u64;

/// Mask of the `arrived` field.
pub(super) const ARRIVED_MASK: Word = 0xFFFF;
/// One party in the `parties` field.
pub(super) const ONE_PARTY: Word = 1 << 16;
/// Mask of the `parties` field.
pub(super) const PARTIES_MASK: Word = 0xFFFF << 16;
/// The largest `parties` field.
pub(super) const MAX_PARTIES: usize = 0xFFFF;
/// A thread is parked, or about to park, on the futex word.
pub(super) const SLEEPERS: Word = 1 << 32;
/// The phaser is broken (with `ADVANCING`: the next phase will be).
pub(super) const BROKEN: Word = 1 << 33;
/// The current phase is complete; its completing arrival runs the action.
pub(super) const ADVANCING: Word = 1 << 34;
/// A `reset()` has claimed the broken phase; only it moves the word on.
pub(super) const RESETTING: Word = 1 << 35;
/// Bits of the `phase` field.
pub(super) const PHASE_BITS: u32 = 28;
/// The lowest bit of the `phase` field.
const PHASE_SHIFT: u32 = 64 - PHASE_BITS;
/// Mask of the `phase` field.
const PHASE_MASK: Word = !0 << PHASE_SHIFT;

/// The `arrived` field.
#[inline]
pub(super) const fn arrived(s: Word) -> usize {
    (s & ARRIVED_MASK) as usize
}

/// The `parties` field.
#[inline]
pub(super) const fn parties(s: Word) -> usize {
    ((s & PARTIES_MASK) >> 16) as usize
}

/// The `phase` field, shifted down: `0..2^28`.
#[inline]
pub(super) const fn phase(s: Word) -> u32 {
    (s >> PHASE_SHIFT) as u32
}

/// The word of the next phase: `phase + 1` (wrapping), the same parties,
/// no arrivals, no flags.
#[inline]
pub(super) const fn next_phase(s: Word) -> Word {
    ((s & PHASE_MASK).wrapping_add(1 << PHASE_SHIFT)) | (s & PARTIES_MASK)
}

/// Whether `s`'s phase is still open to arrivals that fail it: not broken,
/// not complete.
#[inline]
pub(super) const fn is_open(s: Word) -> bool {
    s & (BROKEN | ADVANCING) == 0
}

/// Why `s` is not a state a phaser can be in, if it is not.
///
/// Checked on every transition in debug and loom builds
/// (`Phaser::transition`); the transitions are written so that none can
/// produce such a word (arrivals refuse a complete phase, drops refuse zero
/// parties, registrations refuse to pass `MAX_PARTIES`).
pub(super) fn invalid(s: Word) -> Option<&'static str> {
    let (a, p) = (arrived(s), parties(s));
    if a > p {
        Some("arrived exceeds parties")
    } else if s & RESETTING != 0 && s & BROKEN == 0 {
        Some("RESETTING without BROKEN")
    } else if s & RESETTING != 0 && s & ADVANCING != 0 {
        Some("RESETTING while ADVANCING")
    } else if s & ADVANCING != 0 && a != p {
        Some("ADVANCING on an incomplete phase")
    } else if s & (ADVANCING | BROKEN) == 0 && p != 0 && a == p {
        Some("a complete phase that neither advanced nor runs the action")
    } else {
        None
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fields_partition_the_word() {
        let fields = [
            ARRIVED_MASK,
            PARTIES_MASK,
            SLEEPERS,
            BROKEN,
            ADVANCING,
            RESETTING,
            PHASE_MASK,
        ];
        let mut all: Word = 0;
        for f in fields {
            assert_eq!(all & f, 0, "field {f:#x} overlaps");
            all |= f;
        }
        assert_eq!(all, Word::MAX, "every bit belongs to a field");
        assert_eq!(parties(PARTIES_MASK), MAX_PARTIES);
        assert_eq!(arrived(ARRIVED_MASK), MAX_PARTIES);
    }

    #[test]
    fn phase_wraps_to_zero_and_keeps_only_parties() {
        let top = PHASE_MASK | (7 * ONE_PARTY) | SLEEPERS | BROKEN | ADVANCING | 7;
        assert_eq!(next_phase(top), 7 * ONE_PARTY);
        assert_eq!(phase(next_phase(0)), 1);
        assert_eq!(phase(PHASE_MASK), (1 << PHASE_BITS) - 1);
    }

    #[test]
    fn invariant_rejects_corrupt_words() {
        let w = |a: Word, p: Word| p * ONE_PARTY + a;
        assert_eq!(invalid(w(1, 3)), None);
        assert_eq!(invalid(w(0, 0)), None, "empty");
        assert_eq!(invalid(w(3, 3) | ADVANCING), None);
        assert_eq!(invalid(w(0, 0) | ADVANCING), None, "dropped to zero");
        assert_eq!(invalid(w(3, 3) | BROKEN), None, "action panicked");
        assert_eq!(invalid(w(1, 3) | BROKEN | RESETTING), None);
        assert!(invalid(w(4, 3)).is_some());
        assert!(invalid(w(3, 3)).is_some());
        assert!(invalid(w(2, 3) | ADVANCING).is_some());
        assert!(invalid(w(1, 3) | RESETTING).is_some());
        assert!(invalid(w(3, 3) | ADVANCING | BROKEN | RESETTING).is_some());
        // An underflowing drop: parties 0 - 1 borrows from SLEEPERS.
        assert!(invalid(w(0, 0).wrapping_sub(ONE_PARTY)).is_some());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(if cfg!(miri) { 16 } else { 256 }))]

        #[test]
        fn fields_round_trip_and_never_overflow(
            ph in 0u64..(1 << PHASE_BITS),
            p in 0..=MAX_PARTIES,
            a_frac in 0.0f64..1.0,
            flags in proptest::sample::select(&[0, SLEEPERS, BROKEN, ADVANCING, SLEEPERS | BROKEN, BROKEN | RESETTING][..]),
        ) {
            let a = ((p as f64) * a_frac) as usize;
            let s = (ph << PHASE_SHIFT) | flags | ((p as Word) * ONE_PARTY) | a as Word;
            proptest::prop_assert_eq!(arrived(s), a);
            proptest::prop_assert_eq!(parties(s), p);
            proptest::prop_assert_eq!(u64::from(phase(s)), ph);
            proptest::prop_assert_eq!(s & (SLEEPERS | BROKEN | ADVANCING | RESETTING), flags);
            let n = next_phase(s);
            proptest::prop_assert_eq!(u64::from(phase(n)), (ph + 1) % (1 << PHASE_BITS));
            proptest::prop_assert_eq!((parties(n), arrived(n), n & !(PHASE_MASK | PARTIES_MASK)), (p, 0, 0));
            if a < p {
                // One more arrival never touches another field.
                proptest::prop_assert_eq!((s + 1) & !ARRIVED_MASK, s & !ARRIVED_MASK);
            }
            if p < MAX_PARTIES {
                proptest::prop_assert_eq!((s + ONE_PARTY) & !PARTIES_MASK, s & !PARTIES_MASK);
            }
        }
    }
}
