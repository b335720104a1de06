//! [`Barrier`]: Python's `threading.Barrier`, lock-free in one atomic word.
//!
//! # State word
//!
//! The whole state lives in one `AtomicU64` (`AtomicU32` on targets without
//! 64-bit atomics); every transition is one successful CAS on it, decided
//! from the value the CAS saw, never from a re-load. The fields (`count`,
//! `SLEEPERS`, `BROKEN`, `RESETTING`, `gen`) are laid out in `layout.rs`.
//!
//! A generation ends exactly once, by **release** (`gen + 1`: its parties
//! get `Ok`) or by a **break** (`BROKEN` or `RESETTING` set with `gen`
//! unchanged: its parties get `Err`). After a break, `count` is the number of
//! that generation's waiters that have not yet seen it; each "departs" by
//! decrementing it, and `gen` cannot move on until `count` is 0. Then
//! `reset` (or the last of its victims) opens a fresh generation under the
//! *same* number: nobody who could confuse the two is left, and only
//! releases ever move `gen`. So a waiter
//! that wakes late, after any number of later events, reads what ended *its*
//! generation: `gen` moved on means released; `gen` unchanged with a break
//! flag means broken. Releases, the hot path, cost no departure RMW. That
//! `gen` never comes round to a stalled waiter's generation again is
//! `lag.rs`'s job on the narrow layout, and 2^45 generations' on the wide
//! one.
//!
//! Every transition keeps the word's invariant (`count <= parties`, no
//! underflow, flags consistent with `count`): each is written to refuse
//! rather than corrupt, and debug and loom builds check the invariant on
//! every one (`Barrier::transition`).
//!
//! Waiters spin briefly on the state word, then park on `seq`, a separate
//! 32-bit futex word, after setting `SLEEPERS` (`waiting.rs`, shared with
//! the crate's other primitives). Each transition that ends what sleepers
//! wait for clears `SLEEPERS` and, only if it was set, bumps `seq` and calls
//! `wake_all`: no syscall when nobody sleeps.
//!
//! # Memory ordering
//!
//! - Arrival CAS: `AcqRel`. Release publishes the arriving party's earlier
//!   writes; Acquire, through the release sequence of RMWs on the word, lets
//!   the leader see every earlier arrival's writes before the action runs.
//! - Release CAS (leader): `AcqRel`; waiters' `Acquire` loads of the state
//!   that observe the new `gen` synchronise with it, so every party's
//!   pre-barrier writes and the action's effects happen-before every
//!   party's return.
//! - Break, reset, departure CAS: `AcqRel`, for the same reasons on the
//!   error path.
//! - Every value a decision is made from was read with `Acquire`: the
//!   waiters' loads, and the values `transition` hands its closures or
//!   returns as `Err` (its initial load and its CAS failure ordering). In
//!   particular a timed-out waiter that finds its generation released
//!   (`time_out` returning `Released`) has synchronised with the release.
//! - Parking: `seq` is loaded `Acquire` *before* the state is re-checked (by
//!   the CAS that sets `SLEEPERS`, or a load); the waker bumps `seq` with
//!   `Release` *after* its state CAS. If the parker read the bump it also
//!   sees the new state and does not sleep; otherwise its futex wait compares
//!   against the pre-bump value and cannot miss the wake. SAFETY.md,
//!   "Waiting: no lost wake-up", gives the full argument.

mod lag;
mod layout;

use crate::action::{BarrierAction, BarrierWaitResult, NoAction};
use crate::error::BarrierError;
use crate::sync::{loom_const_fn, AtomicU32, Ordering};
use crate::time::{Nanos, Timeout};
use crate::unwind::on_unwind;
use crate::waiting::{Backoff, StateWord};
use core::cell::Cell;
use core::fmt;
use core::time::Duration;
use lag::{Lag, Ticket};
use layout::{
    count, fresh_generation, generation, invalid, is_failed, next_generation, one_gone, AtomicWord,
    Word, BROKEN, COUNT_MASK, RESETTING, SLEEPERS, TOO_MANY_PARTIES,
};

/// A reusable barrier with Python's `threading.Barrier` semantics.
///
/// `parties` threads call [`wait`](Self::wait); the last to arrive runs the
/// optional action and releases them all, each with its arrival
/// [`index`](BarrierWaitResult::index). The barrier can be
/// [`abort`](Self::abort)ed and [`reset`](Self::reset); a timeout, an abort
/// or a panicking action *breaks* it, failing every party of the generation.
///
/// Lock-free: the state is one atomic word, waiters spin briefly and then
/// park on a futex word, `wait` never allocates or takes a lock, and
/// `Barrier<NoAction>` is 24 bytes on 64-bit targets.
///
/// # Examples
///
/// ```
/// use rallypoint::Barrier;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// static ROUNDS: AtomicUsize = AtomicUsize::new(0);
/// static BARRIER: Barrier<fn()> = Barrier::with_action(3, || {
///     ROUNDS.fetch_add(1, Ordering::Relaxed);
/// });
///
/// std::thread::scope(|s| {
///     for _ in 0..3 {
///         s.spawn(|| {
///             for _ in 0..10 {
///                 BARRIER.wait().unwrap();
///             }
///         });
///     }
/// });
/// assert_eq!(ROUNDS.load(Ordering::Relaxed), 10);
/// ```
///
/// # Misuse and bad input
///
/// | What | Outcome |
/// |---|---|
/// | `parties` 0 or above [`MAX_PARTIES`](Barrier::MAX_PARTIES) | `new`/`with_action` panic, naming the problem (at compile time in a `const`/`static`) |
/// | `Duration::ZERO` timeout | breaks the barrier unless this party is the last: `Err(TimedOut)` |
/// | `Duration::MAX` (or ≥ ~584 years) | waits forever; no overflow |
/// | more threads than `parties` | they form successive generations |
/// | the action panics | the others get `Err(Broken)`, the panic resumes in the leader |
/// | `reset()`/`abort()` while the action runs | that generation still passes; `abort` breaks the next one |
/// | a party panics (or returns) before arriving | the others wait for it: until their timeout (`Err(TimedOut)`/`Err(Broken)`), or forever without one. Abort on unwind, as below, to fail them at once |
///
/// ```
/// use rallypoint::{Barrier, BarrierError};
///
/// /// Breaks the barrier if this party unwinds before it arrives.
/// struct AbortOnUnwind<'a>(&'a Barrier);
/// impl Drop for AbortOnUnwind<'_> {
///     fn drop(&mut self) {
///         if std::thread::panicking() {
///             self.0.abort();
///         }
///     }
/// }
///
/// let barrier = Barrier::new(2);
/// std::thread::scope(|s| {
///     let failing = s.spawn(|| {
///         let _guard = AbortOnUnwind(&barrier);
///         let work = || -> u32 { panic!("work failed") };
///         work(); // Unwinds: the guard aborts, and `wait` is never reached.
///         barrier.wait()
///     });
///     // Untimed, yet it returns: the guard broke the barrier.
///     assert_eq!(barrier.wait(), Err(BarrierError::Broken));
///     assert!(failing.join().is_err());
/// });
/// ```
pub struct Barrier<A = NoAction> {
    /// The state word (see the module docs).
    state: AtomicWord,
    /// The futex word sleepers park on; bumped when they must wake.
    seq: AtomicU32,
    parties: u32,
    /// Narrow layout: waits per half of the generation space (`lag.rs`).
    /// Wide layout: nothing (size 0).
    lag: Lag,
    /// Default timeout of `wait()`.
    timeout: Option<Nanos>,
    action: A,
}

impl Barrier<NoAction> {
    /// The largest number of parties a barrier can have on this target:
    /// 65 535 where 64-bit atomics exist, 1 023 elsewhere (and with
    /// `--cfg rallypoint_narrow_state`).
    ///
    /// The same for every action type; spell it `Barrier::MAX_PARTIES`.
    /// (It is defined on `Barrier<NoAction>` only, because on a generic
    /// `impl<A> Barrier<A>` the plain `Barrier::MAX_PARTIES` could not infer
    /// `A` and would not compile; so `Barrier::<fn()>::MAX_PARTIES` does
    /// not exist.)
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::Barrier;
    /// let widest = Barrier::with_action(Barrier::MAX_PARTIES, || {});
    /// assert_eq!(widest.parties(), Barrier::MAX_PARTIES);
    /// ```
    pub const MAX_PARTIES: usize = COUNT_MASK as usize;

    loom_const_fn! {
        /// Creates a barrier for `parties` threads, with no action and no
        /// default timeout.
        ///
        /// `const`, so a barrier can live in a `static`.
        ///
        /// # Panics
        ///
        /// If `parties` is 0 or greater than [`Barrier::MAX_PARTIES`].
        ///
        /// # Examples
        ///
        /// ```
        /// static BARRIER: rallypoint::Barrier = rallypoint::Barrier::new(4);
        /// assert_eq!(BARRIER.parties(), 4);
        /// ```
        #[must_use]
        pub fn new(parties: usize) -> Self {
            Self::build(parties, NoAction)
        }
    }
}

impl<A: BarrierAction> Barrier<A> {
    loom_const_fn! {
        /// Creates a barrier for `parties` threads whose last arriver runs
        /// `action` once per completed generation, before any party returns.
        ///
        /// If `action` panics, the barrier becomes broken, the other parties
        /// get [`BarrierError::Broken`], and the panic continues in the
        /// leader's thread.
        ///
        /// # Panics
        ///
        /// If `parties` is 0 or greater than [`Barrier::MAX_PARTIES`].
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::{AtomicBool, Ordering};
        /// let done = AtomicBool::new(false);
        /// let barrier = rallypoint::Barrier::with_action(1, || done.store(true, Ordering::Relaxed));
        /// assert!(barrier.wait().unwrap().is_leader());
        /// assert!(done.load(Ordering::Relaxed));
        /// ```
        #[must_use]
        pub fn with_action(parties: usize, action: A) -> Self {
            Self::build(parties, action)
        }
    }
}

impl<A> Barrier<A> {
    loom_const_fn! {
        fn build(parties: usize, action: A) -> Self {
            assert!(parties != 0, "Barrier: parties must be at least 1");
            assert!(parties <= COUNT_MASK as usize, "{}", TOO_MANY_PARTIES);
            Self {
                state: AtomicWord::new(0),
                seq: AtomicU32::new(0),
                parties: parties as u32,
                lag: Lag::new(),
                timeout: None,
                action,
            }
        }
    }

    /// Sets the default timeout of [`wait`](Self::wait) (Python's `timeout=`
    /// constructor argument).
    ///
    /// `Duration::MAX` (and anything from ~584 years up, which no wait can
    /// outlast) means "wait forever", the same as no default timeout:
    /// [`timeout`](Self::timeout) then reads back `None`, as Python's
    /// `timeout=None` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let barrier = rallypoint::Barrier::new(2).with_timeout(Duration::from_millis(10));
    /// assert_eq!(barrier.timeout(), Some(Duration::from_millis(10)));
    /// assert_eq!(barrier.wait(), Err(rallypoint::BarrierError::TimedOut));
    ///
    /// let forever = rallypoint::Barrier::new(2).with_timeout(Duration::MAX);
    /// assert_eq!(forever.timeout(), None);
    /// ```
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        let nanos = Nanos::from_duration(timeout);
        // `Nanos::FOREVER` reads back as `Duration::MAX`: no timeout at all.
        self.timeout = if nanos.to_duration().as_secs() == u64::MAX {
            None
        } else {
            Some(nanos)
        };
        self
    }

    /// Clears the default timeout: [`wait`](Self::wait) waits forever again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let barrier = rallypoint::Barrier::new(2)
    ///     .with_timeout(Duration::from_secs(1))
    ///     .without_timeout();
    /// assert_eq!(barrier.timeout(), None);
    /// ```
    #[must_use]
    pub const fn without_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// The number of threads required to pass the barrier. Never changes.
    #[inline]
    pub fn parties(&self) -> usize {
        self.parties as usize
    }

    /// The default timeout of [`wait`](Self::wait), if one was set.
    #[inline]
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout.map(Nanos::to_duration)
    }

    /// The number of parties currently blocked in this generation: 0 when
    /// broken or being reset, `parties - 1` while the action runs (also
    /// when an [`abort`](Self::abort) is pending for the next generation:
    /// those parties still pass).
    ///
    /// A snapshot: other threads may arrive or leave at any moment.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = rallypoint::Barrier::new(2);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| barrier.wait());
    ///     while barrier.n_waiting() != 1 {
    ///         std::thread::yield_now();
    ///     }
    ///     barrier.wait().unwrap();
    /// });
    /// assert_eq!(barrier.n_waiting(), 0);
    /// ```
    pub fn n_waiting(&self) -> usize {
        // Relaxed: a snapshot that publishes nothing.
        let s = self.word().load(Ordering::Relaxed);
        if count(s) == self.parties() {
            // The action runs: its generation's other parties are blocked
            // and will pass, even if an `abort` is pending for the next.
            self.parties() - 1
        } else if is_failed(s) {
            0
        } else {
            count(s)
        }
    }

    /// Whether the barrier is broken: by [`abort`](Self::abort), a timeout
    /// or a panicking action, until [`reset`](Self::reset).
    ///
    /// An `abort` while the action runs reports `true` at once: the
    /// finishing generation still passes, and every `wait` from then on
    /// fails until `reset`.
    pub fn is_broken(&self) -> bool {
        // Relaxed: a snapshot that publishes nothing.
        self.word().load(Ordering::Relaxed) & BROKEN != 0
    }

    /// Puts the barrier into the broken state: current waiters get
    /// [`BarrierError::Broken`] promptly, and every later `wait` gets it at
    /// once, until [`reset`](Self::reset).
    ///
    /// If the last party of the current generation has already arrived (the
    /// action is running), that generation still completes with `Ok` and the
    /// *next* one is broken: no generation mixes `Ok` and `Err`. Threads
    /// already blocked arriving for that next generation get
    /// [`BarrierError::Broken`] promptly, without waiting for the action.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = rallypoint::Barrier::new(2);
    /// barrier.abort();
    /// assert!(barrier.is_broken());
    /// assert_eq!(barrier.wait(), Err(rallypoint::BarrierError::Broken));
    /// barrier.reset();
    /// assert!(!barrier.is_broken());
    /// ```
    pub fn abort(&self) {
        let parties = self.parties();
        // Declines (`Err`) only if already broken: nothing to do.
        let _ = self.transition(|s| {
            if s & BROKEN != 0 {
                None
            } else if count(s) == parties {
                // Breaks the next generation at release. Clearing SLEEPERS
                // wakes threads blocked arriving for the next generation:
                // they see BROKEN and fail now, not when the action ends.
                // (The full generation's own waiters wake too, find it
                // still full and park again.)
                Some((s | BROKEN) & !SLEEPERS)
            } else {
                Some((s & !(RESETTING | SLEEPERS)) | BROKEN)
            }
        });
    }

    /// Returns the barrier to its empty, unbroken state. Threads waiting at
    /// that moment get [`BarrierError::Broken`] promptly.
    ///
    /// Like Python, a `wait` that starts while those threads are still
    /// leaving blocks until they have left, then joins the fresh generation.
    /// If the action is running, its generation completes with `Ok` and only
    /// a pending [`abort`](Self::abort) of the next generation is undone
    /// (threads that the abort already failed keep their `Err(Broken)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Barrier, BarrierError};
    /// let barrier = Barrier::new(2);
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| barrier.wait());
    ///     while barrier.n_waiting() != 1 {
    ///         std::thread::yield_now();
    ///     }
    ///     barrier.reset();
    ///     assert_eq!(waiter.join().unwrap(), Err(BarrierError::Broken));
    /// });
    /// assert!(!barrier.is_broken());
    /// ```
    pub fn reset(&self) {
        let parties = self.parties();
        // Declines (`Err`) when there is nothing to reset.
        let _ = self.transition(|s| {
            if count(s) == parties {
                // The action runs: only a pending abort can be undone.
                (s & BROKEN != 0).then_some(s & !BROKEN)
            } else if s & RESETTING != 0 {
                None
            } else if count(s) == 0 {
                // Broken with every waiter gone: a fresh generation.
                (s & BROKEN != 0).then(|| fresh_generation(s))
            } else {
                // Waiters (or broken stragglers) remain: fail them, and
                // keep `gen` until they have all left.
                Some((s & !(BROKEN | SLEEPERS)) | RESETTING)
            }
        });
    }

    /// The state word with its futex word and invariant (`waiting/`).
    #[inline]
    fn word(&self) -> StateWord<'_, Word, impl Fn(Word) -> Option<&'static str> + Copy> {
        let parties = self.parties();
        StateWord::new(&self.state, &self.seq, SLEEPERS, "Barrier", move |w| {
            invalid(w, parties)
        })
    }

    /// Makes one transition of the state word (`StateWord::transition`:
    /// one CAS decided from the value it saw, which was read with
    /// `Acquire`; wakes exactly when it clears `SLEEPERS`, the transitions
    /// that end what sleepers wait for: release, breaks, the end of
    /// `RESETTING`, an abort while the action runs; checked against
    /// `layout::invalid` in debug and loom builds).
    #[inline]
    fn transition(&self, f: impl FnMut(Word) -> Option<Word>) -> Result<Word, Word> {
        self.word().transition(f)
    }

    /// One step of waiting for the state word to leave `s` (spin, yield,
    /// park). Returns `false` if the deadline passed while parked.
    #[inline]
    fn pause(&self, s: Word, timeout: Option<&Timeout>, backoff: &Backoff) -> bool {
        self.word().pause(s, timeout, backoff)
    }
}

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

impl<A> fmt::Debug for Barrier<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties())
            .field("n_waiting", &self.n_waiting())
            .field("broken", &self.is_broken())
            .field("timeout", &self.timeout())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

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
}
