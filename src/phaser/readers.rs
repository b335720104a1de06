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
//! closes class `k % 2` (new registrations there are refused) and waits
//! until that class is empty. Class `k % 2` holds the tokens of `k - 2`
//! resets, the ones whose record reset `k` is about to overwrite, and
//! never a waiter of a phase still pending (its token would count `k - 1`
//! resets, the other class). Every such waiter's phase has ended, so it
//! only has to run to decide and leave: the reset waits for no cycle.
//!
//! Registrations are refused while the class closes, so a registration and
//! a closing are ordered by the class word's modification order: the reset
//! either counts the waiter, or the waiter learns (refused) that reset
//! `r + 2` is under way and decides as a late waiter. SAFETY.md, "Phaser: a
//! late waiter learns what ended its phase", has the proof; its cost is two
//! RMWs on this word per `arrive_and_wait` (and per `wait` that has to
//! wait), and a reset that waits for stragglers of its class.

use crate::futex;
use crate::sync::{AtomicU32, Ordering};
use core::cell::Cell;

/// A reset waits in [`Readers::close`] for this class to empty.
const WAITING: u32 = 1 << 31;
/// A reset is closing this class: registrations are refused.
const CLOSING: u32 = 1 << 30;
/// The number of registered waits.
const COUNT: u32 = CLOSING - 1;

/// The class of a token that counted `resets` resets at its arrival.
#[inline]
const fn class(resets: u32) -> usize {
    (resets & 1) as usize
}

/// Registered waits per reset class (module docs); each word is also the
/// futex word of a reset blocked in [`Readers::close`].
#[derive(Debug)]
pub(super) struct Readers {
    classes: [AtomicU32; 2],
}

impl Readers {
    crate::sync::loom_const_fn! {
        pub(super) fn new() -> Self {
            Self {
                classes: [AtomicU32::new(0), AtomicU32::new(0)],
            }
        }
    }

    /// Counts a wait whose token counts `resets`; `false` (nothing
    /// counted) while reset `resets + 2` (or a later one of the class)
    /// closes its class.
    fn enter(&self, resets: u32) -> bool {
        let word = &self.classes[class(resets)];
        // Acquire, here and on the CAS's failure: a refusal is decided from
        // CLOSING, which the closing reset set after storing the record of
        // the reset before it; the caller then reads that record.
        let mut v = word.load(Ordering::Acquire);
        loop {
            if v & CLOSING != 0 {
                return false;
            }
            debug_assert!(v & COUNT < COUNT, "Phaser: waiter count overflow");
            // Relaxed on success: a closing reset's RMW on this word sees
            // the count by the word's modification order alone; what the
            // reset must not overwrite is ordered by `leave`'s Release.
            match word.compare_exchange_weak(v, v + 1, Ordering::Relaxed, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
    }

    /// Ends a registration of class `class(resets)`.
    fn leave(&self, resets: u32) {
        let word = &self.classes[class(resets)];
        // Release pairs with the Acquire in `close`: every read this waiter
        // made of the state word and the record happens-before the record
        // store that follows the close, so none of them can see it.
        let old = word.fetch_sub(1, Ordering::Release);
        debug_assert!(old & COUNT != 0, "Phaser: waiter count underflow");
        if old & (WAITING | COUNT) == WAITING | 1 {
            // The last one out, and a reset blocks on this class.
            word.fetch_and(!WAITING, Ordering::Relaxed);
            futex::wake_all(word);
        }
    }

    /// Reset number `resets` is about to store its record: refuses new
    /// registrations of its class and blocks until the class is empty (the
    /// waits whose tokens counted `resets - 2` resets have decided).
    pub(super) fn close(&self, resets: u32) {
        let word = &self.classes[class(resets)];
        // AcqRel: the Release half orders the previous reset's record
        // store (read by the refused, see `enter`) before CLOSING; the
        // Acquire half pairs with `leave`'s Release if the count is
        // already 0.
        let mut v = word.fetch_or(CLOSING, Ordering::AcqRel) | CLOSING;
        debug_assert!(v & WAITING == 0, "Phaser: two resets closed one class");
        while v & COUNT != 0 {
            if v & WAITING == 0
                && word
                    .compare_exchange(v, v | WAITING, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
            {
                // Acquire pairs with the Release decrement in `leave`.
                v = word.load(Ordering::Acquire);
                continue;
            }
            // `leave` wakes after clearing WAITING; a wait that enters the
            // kernel after that sees a changed word and returns at once.
            futex::wait(word, v | WAITING, None);
            v = word.load(Ordering::Acquire);
        }
    }

    /// Reset number `resets` has stored its record: registrations of its
    /// class are accepted again.
    pub(super) fn open(&self, resets: u32) {
        // Release: a registration refused meanwhile retries after reading
        // the new record (`enter`'s Acquire).
        let old = self.classes[class(resets)].fetch_and(!CLOSING, Ordering::Release);
        debug_assert!(old & CLOSING != 0, "Phaser: opened a class nobody closed");
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

    /// Registers under `resets` (after leaving any other registration);
    /// `false` if refused: a reset closes that class.
    pub(super) fn enter(&self, resets: u32) -> bool {
        if self.resets.get() == Some(resets) {
            return true;
        }
        self.leave();
        let entered = self.readers.enter(resets);
        if entered {
            self.resets.set(Some(resets));
        }
        entered
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
    fn a_class_closes_only_once_its_last_registration_leaves() {
        let readers = Readers::new();
        for n in 1..=3u32 {
            for _ in 0..n {
                assert!(readers.enter(1));
            }
            assert!(readers.enter(2), "the other class");
            readers.leave(2);
            for _ in 0..n {
                readers.leave(3); // Same class as 1.
            }
            readers.close(5); // Returns at once: class 1 is empty.
            assert!(!readers.enter(7), "refused while closing");
            assert!(readers.enter(6), "the other class stays open");
            readers.leave(6);
            readers.open(5);
            assert!(readers.enter(7), "accepted again");
            readers.leave(7);
        }
    }

    #[test]
    fn close_waits_for_the_last_registration() {
        let readers = Readers::new();
        assert!(readers.enter(0));
        assert!(readers.enter(2));
        std::thread::scope(|s| {
            let closer = s.spawn(|| readers.close(4));
            std::thread::sleep(core::time::Duration::from_millis(20));
            readers.leave(0);
            std::thread::sleep(core::time::Duration::from_millis(20));
            assert!(!closer.is_finished(), "closed with a registration left");
            readers.leave(2);
            closer.join().unwrap();
        });
        readers.open(4);
    }

    #[test]
    fn a_ticket_moves_between_classes_and_leaves_on_drop() {
        let readers = Readers::new();
        {
            let ticket = Ticket::none(&readers);
            assert!(!ticket.covers(0));
            assert!(ticket.enter(0) && ticket.covers(0));
            assert!(ticket.enter(1) && ticket.covers(1) && !ticket.covers(0));
        }
        readers.close(2); // Class 0: left when the ticket moved.
        readers.open(2);
        readers.close(3); // Class 1: left when the ticket dropped.
        readers.open(3);
    }
}
