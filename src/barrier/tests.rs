//! Unit tests of `Barrier`'s contract constants and size.

use super::Barrier;
use crate::action::NoAction;

#[test]
fn max_parties_meets_the_contract() {
    #[cfg(target_has_atomic = "64")]
    #[cfg(not(rallypoint_narrow_state))]
    const {
        assert!(Barrier::MAX_PARTIES >= 65_535)
    };
    const { assert!(Barrier::MAX_PARTIES >= 1_023) };
}

#[test]
fn sizes() {
    #[cfg(all(target_pointer_width = "64", not(rallypoint_narrow_state)))]
    assert!(core::mem::size_of::<Barrier>() <= 24);
    assert_eq!(core::mem::size_of::<NoAction>(), 0);
}
