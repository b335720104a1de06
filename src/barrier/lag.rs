//! Straggler accounting for the narrow layout: why a waiter never sees its
//! own generation number come round again, however long it stalls.
//!
//! The narrow `gen` field has 19 bits: two threads complete its 524 288
//! generations in about half a second. A waiter of generation `G` that is
//! released and then stalls (preempted, in a signal handler, stopped in a
//! debugger) would, once `gen` has wrapped round to `G`, misread a later
//! generation's state as its own. Here is what rules that out.
//!
//! The generation space is split in two halves by `gen`'s top bit. Every
//! wait call is counted, from before its arrival until it has read its
//! outcome, in `halves[h]`, where `h` is the half of the generation it
//! arrives in (its arrival CAS refuses a word of the other half, and the
//! caller re-registers). Only releases move `gen` (a reset reuses the
//! broken generation's number), and the release that moves it into a half
//! `h`, at the end of the other half, first waits until `halves[h]` is 0:
//! until every wait that arrived in `h` one full lap earlier has read its
//! outcome. That release is always made from a full generation (a leader
//! that would release in its arrival CAS makes the generation full
//! instead), so nothing else can move the word on while its leader waits,
//! and the leader itself is no longer registered: the wait cannot go stale
//! and cannot be part of a cycle. So, while
//! a waiter of `G` is counted, `gen` stays within `G`'s half and the next
//! one, where every generation number occurs once: it can never read `G`
//! again except as its own generation. The bound holds for any number of
//! generations. Its cost: two uncontended RMWs per wait, on the narrow
//! layout only, and once per 2^18 generations a check that is almost
//! always already clear (a thread waits there only behind a waiter that
//! stalled for 2^18 generations).
//!
//! The wide (64-bit) layout's 45-bit `gen` takes 2^45 generations to wrap
//! (20 days at 20 million generations a second, the fastest a two-thread
//! round runs here): `Lag` is then a no-op of size 0 (SAFETY.md, "Barrier:
//! wrap-around").

#[cfg(any(rallypoint_narrow_state, not(target_has_atomic = "64")))]
pub(super) use narrow::{Lag, Ticket};
#[cfg(not(any(rallypoint_narrow_state, not(target_has_atomic = "64"))))]
pub(super) use wide::{Lag, Ticket};

#[cfg(any(rallypoint_narrow_state, not(target_has_atomic = "64")))]
mod narrow {
    use super::super::layout::{half, Word};
    use crate::waiting::WaitCount;
    use core::cell::Cell;

    /// Registered waits per half of the generation space (see the module
    /// docs); each count is also the futex word of a thread blocked in
    /// [`Lag::wait_clear`].
    #[derive(Debug)]
    pub(in crate::barrier) struct Lag {
        halves: [WaitCount; 2],
    }

    impl Lag {
        crate::sync::loom_const_fn! {
            pub(in crate::barrier) fn new() -> Self {
                Self {
                    halves: [WaitCount::new(), WaitCount::new()],
                }
            }
        }

        fn enter(&self, half: usize) {
            // Relaxed (inside `enter`): the arrival CAS that follows
            // (AcqRel) publishes it; a thread about to move `gen` into this
            // half acquires that CAS (through the release sequence of RMWs
            // on the state word) before it reads this counter in
            // `is_clear`.
            self.halves[half].enter();
        }

        fn leave(&self, half: usize) {
            // Release (inside `leave`) pairs with the Acquire load in
            // `is_clear`/`wait_clear`: every read this waiter made of the
            // state word happens-before the transition that moves `gen`
            // into this half again, so none of them can see it or anything
            // after it (read-write coherence).
            self.halves[half].leave();
        }

        /// Whether moving `gen` from `old`'s generation to `new`'s must
        /// wait for stragglers: `Some(half)` if it enters the other half
        /// and waits registered there one lap ago have not all finished.
        #[inline]
        pub(in crate::barrier) fn must_wait(&self, old: Word, new: Word) -> Option<usize> {
            let h = half(new);
            (h != half(old) && !self.is_clear(h)).then_some(h)
        }

        fn is_clear(&self, half: usize) -> bool {
            self.halves[half].is_clear()
        }

        /// Blocks until every wait registered in `half` has finished.
        #[cold]
        pub(in crate::barrier) fn wait_clear(&self, half: usize) {
            self.halves[half].wait_clear();
        }
    }

    /// One wait call's registration in [`Lag`], released when dropped.
    #[derive(Debug)]
    pub(in crate::barrier) struct Ticket<'a> {
        lag: &'a Lag,
        /// The half registered in; `None` once left.
        half: Cell<Option<usize>>,
    }

    impl<'a> Ticket<'a> {
        /// Registers a wait that will try to arrive in the generation of
        /// the word `current` reads (a guess: `move_to` corrects it).
        #[inline]
        pub(in crate::barrier) fn new(lag: &'a Lag, current: impl FnOnce() -> Word) -> Self {
            let s = current();
            lag.enter(half(s));
            Self {
                lag,
                half: Cell::new(Some(half(s))),
            }
        }

        /// Whether an arrival in `s`'s generation is covered by this
        /// registration (the arrival CAS refuses `s` if not).
        #[inline]
        pub(in crate::barrier) fn admits(&self, s: Word) -> bool {
            self.half.get() == Some(half(s))
        }

        /// Registers for `s`'s half instead, after a refused arrival.
        pub(in crate::barrier) fn move_to(&self, s: Word) {
            if !self.admits(s) {
                self.leave();
                self.lag.enter(half(s));
                self.half.set(Some(half(s)));
            }
        }

        /// Ends the registration: this wait reads the state word no more.
        #[inline]
        pub(in crate::barrier) fn leave(&self) {
            if let Some(h) = self.half.take() {
                self.lag.leave(h);
            }
        }
    }

    impl Drop for Ticket<'_> {
        fn drop(&mut self) {
            self.leave();
        }
    }

    #[cfg(all(test, not(loom)))]
    mod tests {
        use super::*;

        /// A half is clear only once every registration in it has left,
        /// however many there are, and the other half is unaffected.
        #[test]
        fn a_half_clears_after_its_last_registration_leaves() {
            let lag = Lag::new();
            for n in 1..=3 {
                for _ in 0..n {
                    lag.enter(1);
                }
                for left in 1..=n {
                    assert!(lag.is_clear(0), "the other half stays clear");
                    assert!(!lag.is_clear(1), "{left} of {n} left: not clear yet");
                    lag.leave(1);
                }
                assert!(lag.is_clear(1), "all {n} left");
                lag.wait_clear(1); // returns at once on a clear half
            }
        }
    }
}

#[cfg(not(any(rallypoint_narrow_state, not(target_has_atomic = "64"))))]
mod wide {
    use super::super::layout::Word;
    use core::marker::PhantomData;

    /// Nothing to account for: 2^45 generations do not wrap in a stall.
    #[derive(Debug)]
    pub(in crate::barrier) struct Lag;

    impl Lag {
        #[inline]
        pub(in crate::barrier) const fn new() -> Self {
            Self
        }
        #[inline]
        pub(in crate::barrier) fn must_wait(&self, _old: Word, _new: Word) -> Option<usize> {
            None
        }
        #[inline]
        pub(in crate::barrier) fn wait_clear(&self, _half: usize) {}
    }

    #[derive(Debug)]
    pub(in crate::barrier) struct Ticket<'a>(PhantomData<&'a Lag>);

    impl<'a> Ticket<'a> {
        #[inline]
        pub(in crate::barrier) fn new(_lag: &'a Lag, _current: impl FnOnce() -> Word) -> Self {
            Self(PhantomData)
        }
        #[inline]
        pub(in crate::barrier) fn admits(&self, _s: Word) -> bool {
            true
        }
        #[inline]
        pub(in crate::barrier) fn move_to(&self, _s: Word) {}
        #[inline]
        pub(in crate::barrier) fn leave(&self) {}
    }
}
