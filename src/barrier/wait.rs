//! [`Barrier::wait`]: arriving, the leader's action and release, and a
//! waiter's wait for its generation to end (timeouts and departures
//! included). The protocol is described in `barrier/mod.rs`.

use super::control::Barrier;
use super::lag::Ticket;
use super::layout::{
    count, fresh_generation, generation, is_failed, next_generation, one_gone, Word, BROKEN,
    RESETTING, SLEEPERS,
};
use crate::action::{BarrierAction, BarrierWaitResult};
use crate::error::BarrierError;
use crate::sync::Ordering;
use crate::time::{Nanos, Timeout};
use crate::unwind::on_unwind;
use crate::waiting::Backoff;
use core::cell::Cell;
use core::time::Duration;

/// How a waiter's generation ended, as far as its last look could tell.
enum Outcome {
    Released,
    Failed(BarrierError),
    Pending,
}

impl<A: BarrierAction> Barrier<A> {
    /// Waits until all parties have called `wait` in this generation, using
    /// the default timeout if one was set (else waiting forever).
    ///
    /// Returns this party's arrival index; the last to arrive (the leader)
    /// runs the action before anyone is released.
    ///
    /// # Errors
    ///
    /// - [`BarrierError::TimedOut`]: this party's timeout elapsed before the
    ///   generation was complete; the barrier is now broken.
    /// - [`BarrierError::Broken`]: the barrier is or became broken (abort,
    ///   another party's timeout, a panicking action, a `reset` while this
    ///   party waited). Later calls fail at once until `reset()`.
    ///
    /// A generation never mixes `Ok` and `Err`: once its last party has
    /// arrived, nothing can fail it except a panicking action.
    ///
    /// # Panics
    ///
    /// Resumes the action's panic in the leader's thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = rallypoint::Barrier::new(2);
    /// let indices = std::thread::scope(|s| {
    ///     let other = s.spawn(|| barrier.wait().unwrap().index());
    ///     let mine = barrier.wait().unwrap().index();
    ///     [mine, other.join().unwrap()]
    /// });
    /// assert_eq!(indices[0] + indices[1], 1); // one got 0, the other 1
    /// ```
    pub fn wait(&self) -> Result<BarrierWaitResult, BarrierError> {
        self.wait_until(&Timeout::new(self.timeout.map(Nanos::to_duration)))
    }

    /// Like [`wait`](Self::wait), with `timeout` instead of the default.
    /// `Duration::ZERO` breaks the barrier unless this party is the last;
    /// `Duration::MAX` waits forever.
    ///
    /// The timeout never ends the wait early. Its deadline is computed when
    /// the waiter first needs it, after a brief spin (so waits that end while
    /// spinning read no clock), which can end a timed-out wait up to that
    /// spin (well under a microsecond) late.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Panics
    ///
    /// Resumes the action's panic in the leader's thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Barrier, BarrierError};
    /// use std::time::Duration;
    /// let barrier = Barrier::new(2);
    /// assert_eq!(barrier.wait_timeout(Duration::from_millis(1)), Err(BarrierError::TimedOut));
    /// assert_eq!(barrier.wait_timeout(Duration::MAX), Err(BarrierError::Broken));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<BarrierWaitResult, BarrierError> {
        self.wait_until(&Timeout::new(Some(timeout)))
    }

    fn wait_until(&self, timeout: &Timeout) -> Result<BarrierWaitResult, BarrierError> {
        let parties = self.parties();
        let backoff = Backoff::new();
        // Narrow layout: registers this wait until it has read its outcome
        // (`lag.rs`); a guess at the half, corrected if the arrival refuses.
        // Wide layout: nothing, compiled away.
        let ticket = Ticket::new(&self.lag, || self.word().load(Ordering::Relaxed));
        // Whether the arrival released the generation in the same CAS.
        let released = Cell::new(false);
        let arrive = |s: Word| {
            if is_failed(s) || count(s) == parties || !ticket.admits(s) {
                return None;
            }
            let last = count(s) + 1 == parties;
            // The leader releases in the same CAS when there is no action
            // (and, narrow layout, no straggler holds the next half).
            let release = last && A::IS_NOOP && self.lag.must_wait(s, next_generation(s)).is_none();
            released.set(release);
            Some(if release {
                next_generation(s)
            } else {
                s + 1 // One more waiter; the leader's makes the generation full.
            })
        };
        let old = loop {
            match self.transition(arrive) {
                Ok(old) => break old,
                Err(s) if s & BROKEN != 0 => return Err(BarrierError::Broken),
                Err(s) if !ticket.admits(s) => ticket.move_to(s),
                Err(s) => {
                    // Not our generation yet: reset's victims are leaving, or
                    // the action runs. Wait for the state to move on.
                    if timeout.has_passed(backoff.is_spinning()) {
                        // Our timeout elapsed before our generation was complete.
                        self.abort();
                        return Err(BarrierError::TimedOut);
                    }
                    self.pause(s, Some(timeout), &backoff);
                }
            }
        };

        let index = count(old);
        let result = BarrierWaitResult::new(index, parties);
        if index + 1 == parties {
            ticket.leave(); // The leader reads no outcome.
            if !released.get() {
                self.run_action_and_release();
            }
            return Ok(result);
        }
        self.await_release(generation(old), timeout)
            .map(|()| result)
    }

    /// The leader's path when it could not release in its arrival CAS (there
    /// is an action, or a straggler holds the next half): the generation is
    /// full; run the action, then release (or break, if it panics).
    #[cold]
    fn run_action_and_release(&self) {
        on_unwind(|| self.action.run(), || self.break_after_action_panic());
        // Nobody else moves `gen` while the generation is full, so waiting
        // for stragglers first (narrow layout only) cannot go stale.
        let s = self.word().load(Ordering::Relaxed);
        if let Some(half) = self.lag.must_wait(s, next_generation(s)) {
            self.lag.wait_clear(half);
        }
        // A pending abort carries over to the next generation. AcqRel:
        // Release publishes the action's effects to the waiters.
        let released = self.transition(|s| {
            (count(s) == self.parties()).then(|| next_generation(s) | (s & BROKEN))
        });
        debug_assert!(
            released.is_ok(),
            "Barrier: a full generation changed under its leader"
        );
    }

    /// The action unwound: break the full generation. The leader departs;
    /// the other parties must see the break.
    #[cold]
    fn break_after_action_panic(&self) {
        let broken = self.transition(|s| {
            if count(s) != self.parties() {
                return None;
            }
            one_gone(s).map(|s| (s & !(SLEEPERS | RESETTING)) | BROKEN)
        });
        debug_assert!(
            broken.is_ok(),
            "Barrier: a full generation changed under its leader"
        );
    }

    /// A non-leader's wait for generation `gen` to end.
    fn await_release(&self, gen: Word, timeout: &Timeout) -> Result<(), BarrierError> {
        let parties = self.parties();
        let backoff = Backoff::for_parties(parties);
        let mut seen = usize::MAX;
        loop {
            // Acquire: pairs with the release (or break) CAS that ended `gen`.
            let s = self.word().load(Ordering::Acquire);
            if generation(s) != gen {
                return Ok(());
            }
            let full = count(s) == parties;
            if !full {
                if is_failed(s) {
                    return Err(self.depart(gen, timeout));
                }
                if timeout.has_passed(backoff.is_spinning()) {
                    match self.time_out(gen) {
                        Outcome::Released => return Ok(()),
                        Outcome::Failed(e) => return Err(e),
                        Outcome::Pending => {} // Full now: no timeout can fail it.
                    }
                }
            }
            if count(s) != seen {
                // Progress: more parties arrived. Spin (or yield) a while longer.
                seen = count(s);
                backoff.progress(parties - seen);
            }
            // Once the generation is full it can only be released: wait untimed.
            self.pause(s, if full { None } else { Some(timeout) }, &backoff);
        }
    }

    /// This waiter's timeout elapsed: break `gen`, unless it has already
    /// ended or is full. One CAS decides between this and the release, and
    /// every outcome is read from a value loaded with `Acquire`
    /// (`transition`), so `Released` has synchronised with the release.
    #[cold]
    fn time_out(&self, gen: Word) -> Outcome {
        let parties = self.parties();
        // We depart as we break it: the others count down the rest.
        let broke = self.transition(|s| {
            let open = generation(s) == gen && count(s) != parties && !is_failed(s);
            if !open {
                return None;
            }
            // We are counted in `gen`, so `count` is at least 1; a word
            // that says otherwise is refused, never decremented.
            one_gone(s).map(|s| (s & !SLEEPERS) | BROKEN)
        });
        match broke {
            Ok(_) => Outcome::Failed(BarrierError::TimedOut),
            Err(s) if generation(s) != gen => Outcome::Released,
            Err(s) if count(s) == parties => Outcome::Pending,
            Err(s) if is_failed(s) => {
                Outcome::Failed(self.depart_with(gen, BarrierError::TimedOut))
            }
            Err(_) => {
                // Open, yet count 0 with us counted: impossible while `gen`
                // identifies our generation (SAFETY.md, "Barrier:
                // wrap-around"). Refused above; report a break rather than
                // corrupt the word or wait forever.
                debug_assert!(false, "Barrier: a counted waiter found count 0");
                Outcome::Failed(BarrierError::Broken)
            }
        }
    }

    /// A waiter of the broken generation `gen` leaves.
    #[cold]
    fn depart(&self, gen: Word, timeout: &Timeout) -> BarrierError {
        let error = if timeout.has_expired() {
            BarrierError::TimedOut
        } else {
            BarrierError::Broken
        };
        self.depart_with(gen, error)
    }

    fn depart_with(&self, gen: Word, error: BarrierError) -> BarrierError {
        let departed = self.transition(|s| {
            // `gen` cannot move on while we are counted (module docs).
            if generation(s) != gen || !is_failed(s) {
                return None; // Never corrupt the word, whatever happened.
            }
            let gone = one_gone(s)?;
            Some(if count(s) == 1 && s & RESETTING != 0 {
                fresh_generation(s) // The last of reset's victims.
            } else {
                gone
            })
        });
        debug_assert!(
            departed.is_ok(),
            "Barrier: a counted waiter could not depart"
        );
        error
    }
}
