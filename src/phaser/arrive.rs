//! The phaser's arrivals (`arrive`, `arrive_and_drop`, `arrive_and_wait`)
//! and waits (`wait` on a token, the wait of `arrive_and_wait`), with the
//! completing arrival's action and advance.

use super::control::{ArrivalToken, Phaser};
use super::layout::{
    arrived, is_open, next_phase, parties, phase, Word, ADVANCING, BROKEN, ONE_PARTY, SLEEPERS,
};
use super::readers::Ticket;
use crate::action::{BarrierAction, BarrierWaitResult};
use crate::error::BarrierError;
use crate::sync::Ordering;
use crate::time::Timeout;
use crate::unwind::on_unwind;
use crate::waiting::Backoff;
use core::cell::Cell;
use core::time::Duration;

impl<A: BarrierAction> Phaser<A> {
    /// Arrives at the current phase without waiting for the others, and
    /// returns a token to [`wait`](Self::wait) for the phase with.
    ///
    /// If this arrival completes the phase, it runs the action (if any)
    /// and advances the phase before returning. An arrival made while
    /// another completing arrival runs the action belongs to the next
    /// phase and waits until the advance.
    ///
    /// # Errors
    ///
    /// [`BarrierError::Broken`] if the phaser is broken; nothing changes.
    ///
    /// # Panics
    ///
    /// If the phaser has no registered parties; nothing changes. Resumes
    /// the action's panic if this arrival completed the phase.
    ///
    /// # Examples
    ///
    /// ```
    /// let phaser = rallypoint::Phaser::new(2);
    /// let token = phaser.arrive().unwrap();
    /// assert_eq!((token.phase(), phaser.arrived()), (0, 1));
    /// assert_eq!(phaser.wait_timeout(token, std::time::Duration::ZERO), Err(rallypoint::BarrierError::TimedOut));
    /// ```
    pub fn arrive(&self) -> Result<ArrivalToken, BarrierError> {
        self.arrive_as(Arrival::Stay, None, None)
            .map(|(token, _)| token)
    }

    /// Arrives at the current phase and leaves: the party count drops by
    /// one for every later phase (C++ `arrive_and_drop`, Java
    /// `arriveAndDeregister`). [`parties`](Self::parties) drops at once,
    /// and this arrival is not counted in [`arrived`](Self::arrived): the
    /// phase completes when the remaining parties have arrived.
    ///
    /// If it drops the count to zero, the phase completes (the action runs)
    /// and the phaser waits, empty and usable, for
    /// [`register`](Self::register).
    ///
    /// # Errors
    ///
    /// As [`arrive`](Self::arrive).
    ///
    /// # Panics
    ///
    /// As [`arrive`](Self::arrive).
    ///
    /// # Examples
    ///
    /// ```
    /// let phaser = rallypoint::Phaser::new(2);
    /// let _ = phaser.arrive().unwrap();
    /// let token = phaser.arrive_and_drop().unwrap(); // completes phase 0
    /// assert_eq!((phaser.phase(), phaser.parties()), (1, 1));
    /// phaser.wait(token).unwrap();
    /// ```
    pub fn arrive_and_drop(&self) -> Result<ArrivalToken, BarrierError> {
        self.arrive_as(Arrival::Drop, None, None)
            .map(|(token, _)| token)
    }

    /// Waits until `token`'s phase has completed; returns at once if it
    /// already has. Spurious wake-ups never end it early.
    ///
    /// # Errors
    ///
    /// [`BarrierError::Broken`] if the token's phase was broken (abort, a
    /// timed-out [`arrive_and_wait_timeout`](Self::arrive_and_wait_timeout),
    /// a panicking action, a [`reset`](Self::reset)). A phase that
    /// completed stays `Ok` for a wait that has registered (parked, or
    /// about to) while its phase was pending, however many resets follow,
    /// and for a wait begun later, however many phases passed, as long as
    /// fewer than two [`reset`](Self::reset)s (that ended a phase) were made
    /// between the arrival and the wait's registration or first look. A
    /// token redeemed after two or more such resets (including a wait that
    /// saw its phase pending and was then descheduled before registering
    /// while two resets ran) gets `Err(Broken)` even if its phase
    /// completed: the phaser keeps a bounded record of resets, and answers
    /// cautiously, never `Ok` for a phase that broke (SAFETY.md, "Phaser: a
    /// late waiter learns what ended its phase").
    ///
    /// # Examples
    ///
    /// ```
    /// let phaser = rallypoint::Phaser::new(2);
    /// std::thread::scope(|s| {
    ///     let token = phaser.arrive().unwrap();
    ///     s.spawn(|| phaser.arrive().unwrap());
    ///     phaser.wait(token).unwrap();
    /// });
    /// ```
    pub fn wait(&self, token: ArrivalToken) -> Result<(), BarrierError> {
        self.await_token(token, &Timeout::new(None))
    }

    /// Like [`wait`](Self::wait), giving up after `timeout` without
    /// changing anything (C++ P2643 `try_wait_for`): the arrival stands,
    /// the phaser is not broken, and a later `wait(token)` still works.
    /// `Duration::ZERO` polls; `Duration::MAX` waits forever.
    ///
    /// Compare [`arrive_and_wait_timeout`](Self::arrive_and_wait_timeout),
    /// whose timeout breaks the phaser: [`Phaser`]'s docs put the two side
    /// by side.
    ///
    /// # Errors
    ///
    /// [`BarrierError::TimedOut`] if `timeout` elapsed first; otherwise as
    /// [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{BarrierError, Phaser};
    /// use std::time::Duration;
    /// let phaser = Phaser::new(2);
    /// let token = phaser.arrive().unwrap();
    /// assert_eq!(phaser.wait_timeout(token, Duration::from_millis(1)), Err(BarrierError::TimedOut));
    /// assert!(!phaser.is_broken());
    /// let _ = phaser.arrive().unwrap(); // the second party
    /// assert_eq!(phaser.wait_timeout(token, Duration::ZERO), Ok(()));
    /// ```
    pub fn wait_timeout(&self, token: ArrivalToken, timeout: Duration) -> Result<(), BarrierError> {
        self.await_token(token, &Timeout::new(Some(timeout)))
    }

    /// Arrives and waits for the phase to complete:
    /// [`Barrier::wait`](crate::Barrier::wait) on a phaser. Returns this party's
    /// [`index`](BarrierWaitResult::index) in arrival order within the
    /// phase; the completing arrival is the leader, and runs the action.
    ///
    /// # Errors
    ///
    /// [`BarrierError::Broken`] if the phaser is or becomes broken before
    /// the phase completes.
    ///
    /// # Panics
    ///
    /// As [`arrive`](Self::arrive).
    ///
    /// # Examples
    ///
    /// ```
    /// let phaser = rallypoint::Phaser::new(2);
    /// let indices = std::thread::scope(|s| {
    ///     let other = s.spawn(|| phaser.arrive_and_wait().unwrap().index());
    ///     [phaser.arrive_and_wait().unwrap().index(), other.join().unwrap()]
    /// });
    /// assert_eq!(indices[0] + indices[1], 1);
    /// ```
    pub fn arrive_and_wait(&self) -> Result<BarrierWaitResult, BarrierError> {
        self.arrive_and_wait_until(&Timeout::new(None))
    }

    /// Like [`arrive_and_wait`](Self::arrive_and_wait), with
    /// [`Barrier`](crate::Barrier)'s timeout: if `timeout` elapses before
    /// the phase completes, the phaser **breaks**; this party gets
    /// `Err(TimedOut)`, the phase's other waiters `Err(Broken)` (Python,
    /// Java `CyclicBarrier`). Once the phase is complete no timeout can
    /// fail it. `Duration::MAX` waits forever.
    ///
    /// # Errors
    ///
    /// [`BarrierError::TimedOut`] as above, and also when something else
    /// (an abort, another party's timeout, a reset, a panicking action)
    /// breaks the phase after this party's own timeout has elapsed, as
    /// [`Barrier`](crate::Barrier) does; otherwise as
    /// [`arrive_and_wait`](Self::arrive_and_wait).
    ///
    /// # Panics
    ///
    /// As [`arrive`](Self::arrive).
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{BarrierError, Phaser};
    /// use std::time::Duration;
    /// let phaser = Phaser::new(2);
    /// assert_eq!(phaser.arrive_and_wait_timeout(Duration::from_millis(1)), Err(BarrierError::TimedOut));
    /// assert!(phaser.is_broken());
    /// ```
    pub fn arrive_and_wait_timeout(
        &self,
        timeout: Duration,
    ) -> Result<BarrierWaitResult, BarrierError> {
        self.arrive_and_wait_until(&Timeout::new(Some(timeout)))
    }

    fn arrive_and_wait_until(&self, timeout: &Timeout) -> Result<BarrierWaitResult, BarrierError> {
        // Counted from before the arrival until it has decided, so that no
        // reset overwrites the record it may need (`readers.rs`); dropped
        // (uncounted) on every return, and if the action unwinds.
        let ticket = Ticket::none(&self.readers);
        let (token, old) = self.arrive_as(Arrival::Stay, Some(timeout), Some(&ticket))?;
        let index = arrived(old);
        if index + 1 == parties(old) {
            // This arrival completed the phase (and advanced it).
            return Ok(BarrierWaitResult::new(index, index + 1));
        }
        let result = BarrierWaitResult::new(index, parties(old));
        self.await_phase(token, timeout).map(|()| result)
    }

    /// One arrival: `Stay` (`arrive`, `arrive_and_wait`) or `Drop`. Returns
    /// the token and the word it replaced. `timeout` (only from
    /// `arrive_and_wait_timeout`) bounds the wait for a running action;
    /// if it passes there, the phaser breaks and this party gets
    /// `TimedOut`, like a party that timed out in its phase. `ticket`
    /// (only from `arrive_and_wait`) is registered for the token's reset
    /// count before the arrival is made: the CAS is refused until it is.
    fn arrive_as(
        &self,
        how: Arrival,
        timeout: Option<&Timeout>,
        ticket: Option<&Ticket<'_>>,
    ) -> Result<(ArrivalToken, Word), BarrierError> {
        let backoff = Backoff::new();
        if let Some(ticket) = ticket {
            // A guess, checked in the transition.
            ticket.enter(self.resets_so_far());
        }
        // The resets so far, read in the transition (exact for the
        // successful CAS), and whether `ticket` failed to cover them.
        let (resets, uncovered) = (Cell::new(0), Cell::new(false));
        // Whether this arrival completed the phase, and whether it also
        // advanced it in the same CAS.
        let (completed, advanced) = (Cell::new(false), Cell::new(false));
        let arrive = |s: Word| {
            if !is_open(s) || parties(s) == 0 {
                return None;
            }
            // After the Acquire load of `s`, which this CAS decides from.
            resets.set(self.resets_so_far());
            if ticket.is_some_and(|t| !t.covers(resets.get())) {
                uncovered.set(true);
                return None;
            }
            let (new, complete) = match how {
                Arrival::Stay => (s + 1, arrived(s) + 1 == parties(s)),
                Arrival::Drop => (s - ONE_PARTY, arrived(s) == parties(s) - 1),
            };
            // With no action, the completing arrival advances in its CAS.
            completed.set(complete);
            advanced.set(complete && A::IS_NOOP);
            Some(match (complete, A::IS_NOOP) {
                (false, _) => new,
                (true, true) => next_phase(new),
                (true, false) => new | ADVANCING,
            })
        };
        let old = loop {
            match self.transition(arrive) {
                Ok(old) => break old,
                Err(_) if uncovered.replace(false) => {
                    // A reset moved the count since the guess: register
                    // under the count read, then try again.
                    ticket
                        .expect("only a ticket is uncovered")
                        .enter(resets.get());
                }
                Err(s) if s & BROKEN != 0 => return Err(BarrierError::Broken),
                Err(s) if s & ADVANCING == 0 => {
                    panic!("Phaser: arrival with no registered parties (register first)")
                }
                Err(s) => {
                    // The action runs: this arrival belongs to the next phase.
                    if timeout.is_some_and(|t| t.has_passed(backoff.is_spinning())) {
                        self.abort();
                        return Err(BarrierError::TimedOut);
                    }
                    self.pause(s, timeout, &backoff);
                }
            }
        };
        let token = ArrivalToken {
            phase: phase(old),
            resets: resets.get(),
        };
        if completed.get() && !advanced.get() {
            self.run_action_and_advance(phase(old));
        }
        Ok((token, old))
    }

    /// The completing arrival's path when there is an action: the phase is
    /// `ADVANCING`; run the action, then advance (or break, if it panics).
    #[cold]
    fn run_action_and_advance(&self, p: u32) {
        on_unwind(|| self.action.run(), || self.break_after_action_panic(p));
        // A pending abort carries over to the next phase. AcqRel: Release
        // publishes the action's effects and every arrival's writes to the
        // waiters' Acquire loads that see the new phase.
        let advanced = self.transition(|s| {
            (s & ADVANCING != 0 && phase(s) == p).then(|| next_phase(s) | (s & BROKEN))
        });
        debug_assert!(
            advanced.is_ok(),
            "Phaser: a complete phase changed under its completer"
        );
    }

    /// The action unwound: break the completing phase; its waiters fail.
    #[cold]
    fn break_after_action_panic(&self, p: u32) {
        let broken = self.transition(|s| {
            (s & ADVANCING != 0 && phase(s) == p).then_some((s & !(ADVANCING | SLEEPERS)) | BROKEN)
        });
        debug_assert!(
            broken.is_ok(),
            "Phaser: a complete phase changed under its completer"
        );
    }

    /// `wait`/`wait_timeout`: wait for `token`'s phase to end; a timeout
    /// changes nothing.
    fn await_token(&self, token: ArrivalToken, timeout: &Timeout) -> Result<(), BarrierError> {
        let backoff = Backoff::for_parties(self.parties());
        let mut seen = usize::MAX;
        // Uncounted while the phase has ended at the first look (nothing to
        // wait for); counted from the first look that finds it pending.
        let ticket = Ticket::none(&self.readers);
        loop {
            // Acquire: pairs with the advance (or break, or reset) CAS that
            // ended the phase, so `Ok` carries its happens-before edge.
            let s = self.word().load(Ordering::Acquire);
            if let Some(outcome) = self.outcome(token, s) {
                return outcome;
            }
            // Counted from here on, before the next look decides.
            ticket.enter(token.resets);
            if timeout.has_passed(backoff.is_spinning()) {
                return Err(BarrierError::TimedOut);
            }
            if arrived(s) != seen {
                // Progress, as in `await_phase`: keep yielding, not parking.
                seen = arrived(s);
                backoff.progress(parties(s).saturating_sub(seen));
            }
            self.pause(s, Some(timeout), &backoff);
        }
    }

    /// A non-completing `arrive_and_wait(_timeout)`: wait for the phase to
    /// end; a timeout breaks it, unless it is already complete. The caller
    /// holds the ticket that counts this wait.
    fn await_phase(&self, token: ArrivalToken, timeout: &Timeout) -> Result<(), BarrierError> {
        let backoff = Backoff::for_parties(self.parties());
        let mut seen = usize::MAX;
        loop {
            // Acquire: pairs with the CAS that ended the phase.
            let s = self.word().load(Ordering::Acquire);
            if let Some(outcome) = self.outcome(token, s) {
                // Broken by someone else after this party's own deadline
                // passed: `TimedOut` (API.md, Barrier 4; `Barrier::depart`).
                return outcome.map_err(|e| {
                    if timeout.has_expired() {
                        BarrierError::TimedOut
                    } else {
                        e
                    }
                });
            }
            let complete = s & ADVANCING != 0;
            if !complete && timeout.has_passed(backoff.is_spinning()) {
                // Break the phase, if it is still ours and open. One CAS
                // decides between this and the completing arrival.
                let broke = self.transition(|s| {
                    (phase(s) == token.phase && is_open(s)).then_some((s | BROKEN) & !SLEEPERS)
                });
                match broke {
                    Ok(_) => return Err(BarrierError::TimedOut),
                    // Read with Acquire (`transition`): decided from it.
                    Err(s) => match self.outcome(token, s) {
                        Some(Ok(())) => return Ok(()),
                        // Broken by another party too; our timeout elapsed.
                        Some(Err(_)) => return Err(BarrierError::TimedOut),
                        None => {} // Complete now: no timeout can fail it.
                    },
                }
            }
            if arrived(s) != seen {
                // Progress: more parties arrived. Spin (or yield) a while longer.
                seen = arrived(s);
                backoff.progress(parties(s).saturating_sub(seen));
            }
            // Once the phase is complete it can only advance: wait untimed.
            self.pause(s, if complete { None } else { Some(timeout) }, &backoff);
        }
    }
}

/// How a party arrives.
#[derive(Clone, Copy)]
enum Arrival {
    /// Stays registered for the next phase.
    Stay,
    /// Leaves from the next phase on.
    Drop,
}
