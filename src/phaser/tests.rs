//! Unit tests of `Phaser`'s contract constants, size and outcome rule.

use super::layout::next_phase;
use super::{ArrivalToken, Phaser};
use crate::error::BarrierError;
use crate::sync::Ordering;

#[test]
fn max_parties_meets_the_contract() {
    const { assert!(Phaser::MAX_PARTIES >= 65_535) };
}

#[test]
fn sizes() {
    // The state word, the futex word, the reset record, the two waiter
    // counts (SAFETY.md, "Phaser: a late waiter learns what ended its
    // phase", argues the last 8 bytes).
    #[cfg(target_pointer_width = "64")]
    assert!(core::mem::size_of::<Phaser>() <= 32);
    assert_eq!(core::mem::size_of::<ArrivalToken>(), 8);
}

#[test]
fn a_stale_reset_count_makes_outcome_cautious_not_wrong() {
    let phaser = Phaser::new(1);
    let token = |phase, resets| ArrivalToken { phase, resets };
    // Two resets since the arrival: Err even if the phase completed.
    phaser.resets.store((2 << 32) | 7, Ordering::Relaxed);
    let later = next_phase(next_phase(0));
    assert_eq!(
        phaser.outcome(token(0, 0), later),
        Some(Err(BarrierError::Broken))
    );
    // One reset, which ended a later phase: Ok.
    assert_eq!(phaser.outcome(token(0, 1), later), Some(Ok(())));
    // One reset, which ended this phase: Err.
    phaser.resets.store(2 << 32, Ordering::Relaxed); // ended phase 0
    assert_eq!(
        phaser.outcome(token(0, 1), later),
        Some(Err(BarrierError::Broken))
    );
}
