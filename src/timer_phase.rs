//! The timer phase machine that [`Timer`](crate::Timer) and
//! [`ScheduledTimer`](crate::ScheduledTimer) share: the low bits of their
//! state words, [`TimerState`], and the wait until a timer is finished.
//!
//! # State word, shared part
//!
//! Both state words are one `AtomicU32`, also the futex word every waiter
//! parks on. Their low three bits mean the same in both:
//!
//! | bits | field    | meaning                                                 |
//! |------|----------|---------------------------------------------------------|
//! | 0..2 | phase    | `WAITING` 0, `RUNNING` 1, `FIRED` 2, `CANCELLED` 3      |
//! | 2    | `PARKED` | a `wait`er is parked (or about to): finishing must wake |
//! | 3..  | flags    | the primitive's own ([`FLAGS`] marks where they start)  |
//!
//! `Timer` adds `CLAIMED` (bit 3); `ScheduledTimer` adds `LINKED`,
//! `STOPPED`, `INFLIGHT`, `PANICKED` (bits 3 to 6). Phases move
//! `WAITING -> RUNNING -> FIRED` or `WAITING -> CANCELLED`, never back, except
//! that a repeating `ScheduledTimer` returns `RUNNING -> WAITING` between
//! runs (and ends `RUNNING -> CANCELLED` when stopped during a run).
//!
//! # Waiting
//!
//! A waiter publishes `PARKED` by RMW before it sleeps on the word with that
//! exact value ([`park_flagged`]); the finishing RMW comes later in the
//! word's modification order, sees the bit, and wakes. If it came first,
//! the futex sees a changed value and does not sleep (SAFETY.md, "Waiting:
//! no lost wake-up").

use crate::sync::AtomicU32;
use crate::time::Deadline;
use crate::waiting::park_flagged;

/// Mask of the phase field.
pub(crate) const PHASE: u32 = 0b11;
/// Pending: the function has not run and the timer is not cancelled (a
/// repeating `ScheduledTimer`: or it is between runs).
pub(crate) const WAITING: u32 = 0;
/// The function is running.
pub(crate) const RUNNING: u32 = 1;
/// Finished after the function returned or panicked (a repeating
/// `ScheduledTimer`: after it panicked).
pub(crate) const FIRED: u32 = 2;
/// Finished without running (again): cancelled before the function
/// started, or discarded by a `TimerQueue`'s shutdown.
pub(crate) const CANCELLED: u32 = 3;
/// A `wait`er is parked on the word (or about to): the transition that
/// finishes the timer must wake it.
pub(crate) const PARKED: u32 = 1 << 2;
/// The lowest bit a primitive's own flags may use: every bit below belongs
/// to the shared part (`PHASE | PARKED`).
pub(crate) const FLAGS: u32 = 1 << 3;
// The shared bits lie below the flags, and do not overlap.
const _: () = assert!(PARKED & PHASE == 0 && (PHASE | PARKED) & !(FLAGS - 1) == 0);

/// The phase field of a state word.
#[inline]
pub(crate) const fn phase(word: u32) -> u32 {
    word & PHASE
}

/// Whether the phase is final (`FIRED` or `CANCELLED`). `ScheduledTimer`
/// also asks that no canceller is still in flight (its `is_finished`).
#[inline]
pub(crate) const fn is_finished(word: u32) -> bool {
    phase(word) >= FIRED
}

/// Where a [`Timer`](crate::Timer) (or a
/// [`ScheduledTimer`](crate::ScheduledTimer)) is in its life.
///
/// Moves `Waiting -> Running -> Fired` or `Waiting -> Cancelled`, never back
/// (a repeating `ScheduledTimer` goes back to `Waiting` between runs).
///
/// # Examples
///
/// ```
/// use rallypoint::{Timer, TimerState};
/// use std::time::Duration;
///
/// let fires = Timer::new(Duration::ZERO, || {});
/// assert_eq!(fires.state(), TimerState::Waiting);
/// fires.run();
/// assert_eq!(fires.state(), TimerState::Fired);
///
/// let cancelled = Timer::new(Duration::ZERO, || {});
/// cancelled.cancel();
/// assert_eq!(cancelled.state(), TimerState::Cancelled);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerState {
    /// Neither fired nor cancelled: not yet started, or counting down.
    Waiting,
    /// The function is running.
    Running,
    /// The function has returned (or panicked).
    Fired,
    /// Cancelled before the function started; it will never run.
    Cancelled,
}

impl TimerState {
    /// The state a word's phase field names.
    #[inline]
    pub(crate) const fn of(word: u32) -> Self {
        match phase(word) {
            WAITING => Self::Waiting,
            RUNNING => Self::Running,
            FIRED => Self::Fired,
            _ => Self::Cancelled,
        }
    }
}

/// Blocks until `finished` holds for the word (returns `true`) or
/// `deadline` passes (returns `false`). `seen` is the caller's first load
/// of `word`, made `Acquire` so that a `true` decided from it synchronises
/// with the finishing `Release` RMW; every later value comes from
/// [`park_flagged`], which reads `Acquire` too.
#[inline]
pub(crate) fn wait_until_finished(
    word: &AtomicU32,
    seen: u32,
    deadline: Option<Deadline>,
    finished: impl Fn(u32) -> bool,
) -> bool {
    let mut s = seen;
    loop {
        if finished(s) {
            return true;
        }
        if deadline.is_some_and(Deadline::has_passed) {
            return false;
        }
        // Publish PARKED before sleeping on the word's exact value; the
        // finishing RMW comes later in the word's order and wakes us.
        s = park_flagged(word, s, PARKED, deadline);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn phases_are_ordered_for_is_finished() {
        assert!(!is_finished(WAITING | PARKED));
        assert!(!is_finished(RUNNING | PARKED));
        assert!(is_finished(FIRED));
        assert!(is_finished(CANCELLED | PARKED));
    }

    #[test]
    fn each_phase_names_its_state() {
        assert_eq!(TimerState::of(WAITING | PARKED), TimerState::Waiting);
        assert_eq!(TimerState::of(RUNNING), TimerState::Running);
        assert_eq!(TimerState::of(FIRED | FLAGS), TimerState::Fired);
        assert_eq!(TimerState::of(CANCELLED | PARKED), TimerState::Cancelled);
    }
}
