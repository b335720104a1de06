//! Waiting parties by reset class: why a party that waits for its phase
//! learns how that phase ended, however many resets follow.
//!
//! A waiter whose phase number has moved on cannot tell from the state word
//! whether its phase completed or a `reset()` ended it; the reset record
//! (`Phaser::resets`: how many resets, and the phase the latest one ended)
//! tells it, as long as at most one reset was made since its arrival (the
//! token's `resets` is the count at the arrival, read inside the arrival's
//! transition). A token of `r` resets needs the record of reset `r + 1`,
//! and reset `r + 2` overwrites it. So every wait is counted here, from
//! before its arrival (`arrive_and_wait`) or from its first look at a phase
//! still pending (`wait`, `wait_timeout`) until it has decided, in the
//! class `r % 2` of its token; and reset `k`, before it stores its record,
//! waits until class `k % 2` is empty ([`Readers::wait_clear`]). That class
//! holds the waits of tokens of `k - 2` resets, whose record reset `k` is
//! about to overwrite, and never a wait of a phase still pending (its token
//! counts `k - 1` resets: the other class). Every wait it holds has its
//! phase ended, so it only has to run to decide and leave: the reset waits
//! for no cycle.
//!
//! A registration of `arrive_and_wait` happens-before its arrival, which
//! happens-before any later reset's claim, so that reset's check sees it.
//! One made by a `wait` after its first look may come too late for reset
//! `r + 2`'s check; it then sees that reset's record (count `r + 2`) and
//! decides as a late waiter, cautiously (`Phaser::outcome`). SAFETY.md,
//! "Phaser: a late waiter learns what ended its phase", has the proof; the
//! cost is two RMWs on a class word per `arrive_and_wait` (and per `wait`
//! that has to wait), and a reset that may wait for stragglers of its
//! class.

use crate::waiting::WaitCount;
use core::cell::Cell;

/// The class of a token that counted `resets` resets at its arrival.
#[inline]
const fn class(resets: u32) -> usize {
    (resets & 1) as usize
}

/// Registered waits per reset class (module docs); each count is also the
/// futex word of a reset blocked in [`Readers::wait_clear`].
#[derive(Debug)]
pub(super) struct Readers {
    classes: [WaitCount; 2],
}

impl Readers {
    crate::sync::loom_const_fn! {
        pub(super) fn new() -> Self {
            Self {
                classes: [WaitCount::new(), WaitCount::new()],
            }
        }
    }

    /// Counts a wait whose token counts `resets`.
    fn enter(&self, resets: u32) {
        // Relaxed (inside `enter`): `arrive_and_wait`'s arrival CAS that
        // follows (AcqRel) publishes it to any later reset, whose claim
        // acquires that CAS (through the release sequence of RMWs on the
        // state word) before it reads this counter in `wait_clear`. A
        // `wait`'s registration needs no edge: if a reset misses it, the
        // wait reads that reset's record and answers cautiously (module
        // docs).
        self.classes[class(resets)].enter();
    }

    /// Ends a registration of class `class(resets)`.
    fn leave(&self, resets: u32) {
        // Release (inside `leave`) pairs with the Acquire load in
        // `wait_clear`: every read this waiter made of the state word and
        // the record happens-before the record store that follows, so none
        // of them can see it.
        self.classes[class(resets)].leave();
    }

    /// Reset number `resets` is about to store its record: blocks until
    /// every wait registered in its class (the waits whose tokens counted
    /// `resets - 2` resets, module docs) has decided.
    pub(super) fn wait_clear(&self, resets: u32) {
        self.classes[class(resets)].wait_clear();
    }
}

/// One wait's registration in [`Readers`], ended when dropped (also when
/// the completing arrival's action unwinds).
#[derive(Debug)]
pub(super) struct Ticket<'a> {
    readers: &'a Readers,
    /// The reset count registered under; `None` when not registered.
    resets: Cell<Option<u32>>,
}

impl<'a> Ticket<'a> {
    /// Not registered yet.
    #[inline]
    pub(super) fn none(readers: &'a Readers) -> Self {
        Self {
            readers,
            resets: Cell::new(None),
        }
    }

    /// Registers under `resets`, leaving any other registration.
    pub(super) fn enter(&self, resets: u32) {
        if self.resets.get() != Some(resets) {
            self.leave();
            self.readers.enter(resets);
            self.resets.set(Some(resets));
        }
    }

    /// Whether this registration covers a token that counted `resets`.
    #[inline]
    pub(super) fn covers(&self, resets: u32) -> bool {
        self.resets.get() == Some(resets)
    }

    /// Ends the registration: this wait has decided.
    #[inline]
    pub(super) fn leave(&self) {
        if let Some(r) = self.resets.take() {
            self.readers.leave(r);
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
    extern crate std;
    use super::*;

    #[test]
    fn a_class_clears_only_once_its_last_registration_leaves() {
        let readers = Readers::new();
        for n in 1..=3u32 {
            for _ in 0..n {
                readers.enter(1);
            }
            readers.enter(2);
            for _ in 0..n {
                assert_ne!(readers.classes[1].count(), 0);
                readers.leave(3); // Same class as 1.
            }
            readers.wait_clear(5); // Returns at once: class 1 is empty.
            assert_eq!(readers.classes[0].count(), 1, "the other class");
            readers.leave(0);
        }
    }

    #[test]
    fn wait_clear_blocks_until_the_last_registration_leaves() {
        let readers = Readers::new();
        readers.enter(0);
        readers.enter(2);
        std::thread::scope(|s| {
            let clearing = s.spawn(|| readers.wait_clear(4));
            std::thread::sleep(core::time::Duration::from_millis(20));
            readers.leave(0);
            std::thread::sleep(core::time::Duration::from_millis(20));
            assert!(!clearing.is_finished(), "cleared with a registration left");
            readers.leave(2);
            clearing.join().unwrap();
        });
        assert_eq!(
            (
                readers.classes[0].count(),
                readers.classes[0].is_waited_on()
            ),
            (0, false),
            "WAITING cleared"
        );
    }

    #[test]
    fn a_ticket_moves_between_classes_and_leaves_on_drop() {
        let readers = Readers::new();
        {
            let ticket = Ticket::none(&readers);
            assert!(!ticket.covers(0));
            ticket.enter(0);
            assert!(ticket.covers(0));
            ticket.enter(1);
            assert!(ticket.covers(1) && !ticket.covers(0));
            assert_eq!(
                (
                    readers.classes[0].count(),
                    readers.classes[0].is_waited_on()
                ),
                (0, false),
                "left on moving"
            );
        }
        assert_eq!(
            (
                readers.classes[1].count(),
                readers.classes[1].is_waited_on()
            ),
            (0, false),
            "left on drop"
        );
    }
}
