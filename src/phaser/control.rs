//! [`Phaser`] and [`ArrivalToken`]: the types, construction, snapshots,
//! `register`, `abort`, `reset`, and how a token's phase ended. The state
//! word and its memory ordering are described in `phaser/mod.rs`.

use super::layout::{
    arrived, invalid, is_open, next_phase, parties, phase, Word, ADVANCING, BROKEN, MAX_PARTIES,
    ONE_PARTY, RESETTING, SLEEPERS,
};
use super::readers::Readers;
use crate::action::{BarrierAction, NoAction};
use crate::error::BarrierError;
use crate::sync::{loom_const_fn, AtomicU32, AtomicU64, Ordering};
use crate::time::Timeout;
use crate::waiting::{Backoff, StateWord};
use core::fmt;

/// What [`Phaser::arrive`] returns: the phase the arrival was made in, to
/// redeem with [`Phaser::wait`].
///
/// A token from an earlier phase is always complete: `wait` returns at once
/// with how that phase ended.
///
/// # Examples
///
/// ```
/// let phaser = rallypoint::Phaser::new(1);
/// let token = phaser.arrive().unwrap(); // completes phase 0 at once
/// assert_eq!(token.phase(), 0);
/// assert_eq!(phaser.phase(), 1);
/// phaser.wait(token).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use = "an arrival's token is how to wait for its phase"]
pub struct ArrivalToken {
    pub(super) phase: u32,
    /// How many resets the phaser had made before this arrival: those
    /// whose move to the next phase precedes the arrival's CAS (read
    /// inside the arrival's transition, after the load that CAS decides
    /// from).
    pub(super) resets: u32,
}

impl ArrivalToken {
    /// The phase the arrival was made in (`0..2^28`, wrapping).
    ///
    /// # Examples
    ///
    /// ```
    /// let phaser = rallypoint::Phaser::new(2);
    /// let first = phaser.arrive().unwrap();
    /// let second = phaser.arrive().unwrap(); // completes phase 0
    /// let third = phaser.arrive().unwrap(); // an arrival in phase 1
    /// assert_eq!((first.phase(), second.phase(), third.phase()), (0, 0, 1));
    /// ```
    #[inline]
    pub fn phase(&self) -> u32 {
        self.phase
    }
}

/// A reusable split-phase barrier with dynamic parties: C++20
/// `std::barrier` and Java's `Phaser`, with Python's failure semantics.
///
/// Each phase completes when [`parties`](Self::parties) arrivals have been
/// made in it ([`arrive`](Self::arrive), [`arrive_and_drop`](Self::arrive_and_drop),
/// [`arrive_and_wait`](Self::arrive_and_wait)); the completing arrival runs
/// the action, the phase number advances and every waiter of that phase is
/// released.
///
/// Lock-free and allocation-free: the state is one `AtomicU64`, waiters
/// spin briefly and then park on a futex word. One exception to "never
/// waits for another thread" outside the waits themselves: a
/// [`reset`](Self::reset) that would overwrite the record a waiting party
/// still needs waits until that party has read it.
///
/// # How it compares
///
/// | | `Phaser` | [`Barrier`](crate::Barrier) | C++20 `std::barrier` | Java `Phaser` | .NET `Barrier` |
/// |---|---|---|---|---|---|
/// | Split phase (arrive now, wait later) | [`arrive`](Self::arrive) → [`ArrivalToken`], [`wait`](Self::wait) | no | `arrive()` → token, `wait(token)` | `arrive()` → phase, `awaitAdvance` | no |
/// | Parties join / leave | [`register`](Self::register), [`register_many`](Self::register_many), [`arrive_and_drop`](Self::arrive_and_drop) | fixed | `arrive_and_drop` only | `register`, `bulkRegister`, `arriveAndDeregister` | `AddParticipant(s)`, `RemoveParticipant(s)` |
/// | Completion action | once per phase, before any waiter returns | same | `CompletionFunction` (must not throw) | `onAdvance` override | `postPhaseAction` |
/// | Action panics / throws | phaser broken, waiters `Err(Broken)`, panic continues | same | `std::terminate` | terminates the phaser | exception to every party, not broken |
/// | Timeout | `arrive_and_wait_timeout` **breaks** (Python/Java `CyclicBarrier`); token `wait_timeout` **does not** (P2643) | breaks | none (P2643 proposes `try_wait_for`) | changes nothing | backs the arrival out |
/// | Abort / broken / reset | [`abort`](Self::abort), [`is_broken`](Self::is_broken), [`reset`](Self::reset) | same | no | `forceTermination` (final) | no |
/// | Arrival index, leader | [`arrive_and_wait`](Self::arrive_and_wait) → `index()`, `is_leader()` | same | no | phase only | no |
/// | Max parties | 65 535 | 65 535 | `PTRDIFF_MAX` | 65 535 per phaser (tiering for more) | 32 767 |
/// | Phase counter | 28 bits, wrapping | 45 bits (internal) | 1–8 bits | 31 bits | 64 bits |
/// | Allocation, locks | none, none | none, none | libc++/libstdc++: a heap tree | wait-queue nodes | events |
///
/// # A fuzzy barrier: arrive, do independent work, then wait
///
/// ```
/// use rallypoint::Phaser;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// const WORKERS: usize = 3;
/// let phaser = Phaser::new(WORKERS);
/// let shared: [AtomicU64; WORKERS] = Default::default();
/// std::thread::scope(|s| {
///     for (me, slot) in shared.iter().enumerate() {
///         let (phaser, shared) = (&phaser, &shared);
///         s.spawn(move || {
///             let mut private = 0u64;
///             for step in 1..=10u64 {
///                 slot.store(step * (me as u64 + 1), Ordering::Relaxed); // publish
///                 let token = phaser.arrive().unwrap(); // "mine is written"
///                 private += step; // work that needs nobody else's result
///                 phaser.wait(token).unwrap(); // now everyone's is written
///                 let sum: u64 = shared.iter().map(|x| x.load(Ordering::Relaxed)).sum();
///                 assert_eq!(sum, step * 6);
///                 phaser.arrive_and_wait().unwrap(); // nobody overwrites before all read
///             }
///             assert_eq!(private, 55);
///         });
///     }
/// });
/// assert_eq!(phaser.phase(), 20);
/// ```
///
/// # A worker leaving early, another joining
///
/// ```
/// use rallypoint::Phaser;
///
/// let phaser = Phaser::new(2);
/// std::thread::scope(|s| {
///     // This worker's partition is done after 3 phases: it leaves without
///     // holding up the other.
///     s.spawn(|| {
///         for _ in 0..2 {
///             phaser.arrive_and_wait().unwrap();
///         }
///         phaser.arrive_and_drop().unwrap();
///     });
///     for _ in 0..3 {
///         phaser.arrive_and_wait().unwrap();
///     }
///     assert_eq!(phaser.parties(), 1);
///     // The rest runs alone (arrive completes each phase at once)...
///     let token = phaser.arrive().unwrap();
///     phaser.wait(token).unwrap();
///     // ...until a newcomer registers for the current phase.
///     let joined = phaser.register().unwrap();
///     assert_eq!(joined, phaser.phase());
///     s.spawn(|| phaser.arrive_and_wait().unwrap());
///     phaser.arrive_and_wait().unwrap();
/// });
/// ```
///
/// # Two timeouts, two meanings
///
/// | | [`arrive_and_wait_timeout`](Self::arrive_and_wait_timeout) | [`wait_timeout`](Self::wait_timeout)`(token, t)` |
/// |---|---|---|
/// | On timeout | the phaser **breaks**: this party `Err(TimedOut)`, the phase's other waiters `Err(Broken)` | `Err(TimedOut)`, **nothing changes**: the arrival stands, a later `wait(token)` still works |
/// | Model | Python `threading.Barrier`, Java `CyclicBarrier`, [`Barrier`](crate::Barrier) | C++ P2643 `try_wait_for`, Java `awaitAdvanceInterruptibly` |
/// | Why | the timed call *is* the arrival: a party that gives up cannot stay counted as "ready" for a phase it will not take part in, or the others would pass a barrier it never really reached | the arrival was already made by `arrive`, and its promise ("my part is published") holds whatever the waiter does next: giving up on waiting withdraws nothing, so it must not fail the others |
///
/// # Examples
///
/// ```
/// use rallypoint::Phaser;
/// let phaser = Phaser::new(2);
/// std::thread::scope(|s| {
///     s.spawn(|| phaser.arrive_and_wait().unwrap());
///     let token = phaser.arrive().unwrap(); // returns at once
///     phaser.wait(token).unwrap(); // until the other has arrived
/// });
/// assert_eq!(phaser.phase(), 1);
/// ```
///
/// # Misuse and bad input
///
/// | What | Outcome |
/// |---|---|
/// | arriving with no registered parties | panics, naming the problem; nothing changes |
/// | more than [`MAX_PARTIES`](Phaser::MAX_PARTIES) parties (`new`, `register`, `register_many`) | panics, naming the problem; nothing changes |
/// | more arrivals in a phase than parties | the extra ones belong to the next phase (they count there) |
/// | `wait` on a token of an earlier phase | returns at once with how that phase ended |
/// | `wait` on a token of another phaser | meaningless but safe: it returns at once, with an arbitrary outcome, unless the token's phase number is this phaser's current phase, which it then waits for like a token of that phase |
/// | the action panics | the phase's waiters get `Err(Broken)`, the panic resumes in the completing thread |
/// | `abort`/`reset` while the action runs | that phase still completes `Ok`; `abort` breaks the next one |
/// | the action itself calls `arrive*` or `register` | blocks for good: that call waits for the advance, which waits for the action (Java's `onAdvance` has the same rule); `abort`, `reset` and the snapshots are fine there |
pub struct Phaser<A = NoAction> {
    /// The state word (`layout.rs`).
    state: AtomicU64,
    /// The futex word sleepers park on; bumped when they must wake.
    seq: AtomicU32,
    /// The reset record: how many resets ended a phase (high 32 bits) and
    /// the phase the latest one ended (low 32 bits). Written only by the
    /// reset that holds `RESETTING`.
    pub(super) resets: AtomicU64,
    /// The waits under way, by reset class, so that no reset overwrites a
    /// record one of them still needs (`readers.rs`).
    pub(super) readers: Readers,
    pub(super) action: A,
}

impl Phaser<NoAction> {
    /// The largest number of parties a phaser can have: 65 535.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::Phaser;
    /// let full = Phaser::new(Phaser::MAX_PARTIES);
    /// assert_eq!(full.parties(), Phaser::MAX_PARTIES);
    /// ```
    pub const MAX_PARTIES: usize = MAX_PARTIES;

    loom_const_fn! {
        /// Creates a phaser with `parties` registered parties (0 is allowed:
        /// parties [`register`](Self::register) later) and no action.
        ///
        /// `const`, so a phaser can live in a `static`.
        ///
        /// # Panics
        ///
        /// If `parties` is greater than [`Phaser::MAX_PARTIES`].
        ///
        /// # Examples
        ///
        /// ```
        /// static PHASER: rallypoint::Phaser = rallypoint::Phaser::new(4);
        /// assert_eq!(PHASER.parties(), 4);
        /// ```
        #[must_use]
        pub fn new(parties: usize) -> Self {
            Self::build(parties, NoAction)
        }
    }
}

impl<A: BarrierAction> Phaser<A> {
    loom_const_fn! {
        /// Creates a phaser with `parties` registered parties whose
        /// completing arrival runs `action` (any `Fn()` closure, or a
        /// [`BarrierAction`] of your own) once per completed phase, before
        /// any waiter of that phase returns.
        ///
        /// If `action` panics, the phaser becomes broken, the phase's
        /// waiters get [`BarrierError::Broken`], and the panic continues in
        /// the completing thread.
        ///
        /// # Panics
        ///
        /// If `parties` is greater than [`Phaser::MAX_PARTIES`].
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::{AtomicUsize, Ordering};
        /// let phases = AtomicUsize::new(0);
        /// let phaser = rallypoint::Phaser::with_action(1, || {
        ///     phases.fetch_add(1, Ordering::Relaxed);
        /// });
        /// let _ = phaser.arrive().unwrap();
        /// assert_eq!(phases.load(Ordering::Relaxed), 1);
        /// ```
        #[must_use]
        pub fn with_action(parties: usize, action: A) -> Self {
            Self::build(parties, action)
        }
    }
}

impl<A> Phaser<A> {
    loom_const_fn! {
        fn build(parties: usize, action: A) -> Self {
            assert!(
                parties <= MAX_PARTIES,
                "Phaser: parties exceeds Phaser::MAX_PARTIES (65535)"
            );
            Self {
                state: AtomicU64::new(parties as Word * ONE_PARTY),
                seq: AtomicU32::new(0),
                resets: AtomicU64::new(0),
                readers: Readers::new(),
                action,
            }
        }
    }

    /// The number of registered parties of the current phase: those that
    /// must arrive for it to complete. A party that called
    /// [`arrive_and_drop`](Self::arrive_and_drop) is no longer counted
    /// (Java's `getRegisteredParties`); one that
    /// [`register`](Self::register)ed is, at once.
    ///
    /// A snapshot: other threads may change it at any moment.
    ///
    /// # Examples
    ///
    /// ```
    /// let phaser = rallypoint::Phaser::new(2);
    /// phaser.register().unwrap();
    /// assert_eq!(phaser.parties(), 3);
    /// let _ = phaser.arrive_and_drop().unwrap();
    /// assert_eq!(phaser.parties(), 2);
    /// ```
    #[inline]
    pub fn parties(&self) -> usize {
        // Relaxed: a snapshot that publishes nothing.
        parties(self.word().load(Ordering::Relaxed))
    }

    /// The number of arrivals in the current phase by parties that stay
    /// (so `parties() - arrived()` are still to come); `parties()` while
    /// the completing arrival runs the action.
    ///
    /// A snapshot: other threads may change it at any moment.
    ///
    /// # Examples
    ///
    /// ```
    /// let phaser = rallypoint::Phaser::new(3);
    /// let _ = phaser.arrive().unwrap();
    /// assert_eq!(phaser.arrived(), 1);
    /// ```
    #[inline]
    pub fn arrived(&self) -> usize {
        // Relaxed: a snapshot that publishes nothing.
        arrived(self.word().load(Ordering::Relaxed))
    }

    /// The current phase number (`0..2^28`, wrapping): the number of
    /// phases completed, plus those ended by a [`reset`](Self::reset) of a
    /// broken or partly arrived phase.
    ///
    /// A snapshot: other threads may change it at any moment.
    ///
    /// # Examples
    ///
    /// ```
    /// let phaser = rallypoint::Phaser::new(1);
    /// assert_eq!(phaser.phase(), 0);
    /// let _ = phaser.arrive().unwrap(); // completes phase 0
    /// assert_eq!(phaser.phase(), 1);
    /// ```
    #[inline]
    pub fn phase(&self) -> u32 {
        // Relaxed: a snapshot that publishes nothing.
        phase(self.word().load(Ordering::Relaxed))
    }

    /// Whether the phaser is broken: by [`abort`](Self::abort), an
    /// [`arrive_and_wait_timeout`](Self::arrive_and_wait_timeout) that timed
    /// out, or a panicking action, until [`reset`](Self::reset).
    ///
    /// An `abort` while the action runs reports `true` at once: the
    /// completing phase still passes, and every arrival from then on fails
    /// until `reset`.
    ///
    /// # Examples
    ///
    /// ```
    /// let phaser = rallypoint::Phaser::new(2);
    /// assert!(!phaser.is_broken());
    /// phaser.abort();
    /// assert!(phaser.is_broken());
    /// ```
    #[inline]
    pub fn is_broken(&self) -> bool {
        // Relaxed: a snapshot that publishes nothing.
        self.word().load(Ordering::Relaxed) & BROKEN != 0
    }

    /// Adds one party to the current phase, which it must arrive in.
    /// Returns the phase it joins.
    ///
    /// While the completing arrival runs the action, `register` waits until
    /// the phase has advanced and joins the next one.
    ///
    /// # Errors
    ///
    /// [`BarrierError::Broken`] if the phaser is broken (nothing changes).
    ///
    /// # Panics
    ///
    /// If the phaser already has [`MAX_PARTIES`](Phaser::MAX_PARTIES)
    /// parties; nothing changes.
    ///
    /// # Examples
    ///
    /// ```
    /// let phaser = rallypoint::Phaser::new(0);
    /// assert_eq!(phaser.register(), Ok(0));
    /// assert_eq!(phaser.parties(), 1);
    /// ```
    pub fn register(&self) -> Result<u32, BarrierError> {
        self.register_many(1)
    }

    /// Adds `n` parties to the current phase at once (Java's
    /// `bulkRegister`); `n == 0` changes nothing and returns the current
    /// phase. Returns the phase they join.
    ///
    /// # Errors
    ///
    /// As [`register`](Self::register).
    ///
    /// # Panics
    ///
    /// If `parties() + n` would exceed [`MAX_PARTIES`](Phaser::MAX_PARTIES);
    /// nothing changes.
    ///
    /// # Examples
    ///
    /// ```
    /// let phaser = rallypoint::Phaser::new(1);
    /// assert_eq!(phaser.register_many(3), Ok(0));
    /// assert_eq!(phaser.parties(), 4);
    /// ```
    pub fn register_many(&self, n: usize) -> Result<u32, BarrierError> {
        let backoff = Backoff::new();
        loop {
            let joined = self.transition(|s| {
                if !is_open(s) || n > MAX_PARTIES - parties(s) {
                    return None;
                }
                Some(s + n as Word * ONE_PARTY)
            });
            match joined {
                Ok(s) => return Ok(phase(s)),
                Err(s) if s & BROKEN != 0 => return Err(BarrierError::Broken),
                Err(s) if s & ADVANCING == 0 => panic!(
                    "Phaser: registering {n} more parties would exceed Phaser::MAX_PARTIES \
                     (65535; {} registered); nothing changed",
                    parties(s)
                ),
                // The action runs: join the next phase once it has advanced.
                Err(s) => {
                    self.pause(s, None, &backoff);
                }
            }
        }
    }

    /// Breaks the phaser: waiters of the current phase get
    /// [`BarrierError::Broken`] promptly, and every later call that
    /// arrives, registers or waits for a phase that has not completed gets
    /// it at once, until [`reset`](Self::reset).
    ///
    /// If the completing arrival is running the action, that phase still
    /// completes (`Ok` for its waiters) and the *next* one is broken;
    /// threads already blocked arriving or registering for it get
    /// `Err(Broken)` promptly, without waiting for the action.
    ///
    /// # Examples
    ///
    /// ```
    /// let phaser = rallypoint::Phaser::new(2);
    /// phaser.abort();
    /// assert_eq!(phaser.arrive(), Err(rallypoint::BarrierError::Broken));
    /// phaser.reset();
    /// assert!(phaser.arrive().is_ok());
    /// ```
    pub fn abort(&self) {
        // Declines (`Err`) only if already broken: nothing to do. Clearing
        // SLEEPERS wakes the phase's waiters (they see BROKEN and fail) or,
        // while the action runs, the threads blocked arriving or
        // registering for the next phase (the phase's own waiters wake,
        // find it still advancing and park again).
        let _ = self.transition(|s| (s & BROKEN == 0).then_some((s | BROKEN) & !SLEEPERS));
    }

    /// Returns the phaser to an unbroken state with the same parties and
    /// no arrivals, in a fresh phase. Threads waiting for the phase it ends
    /// get [`BarrierError::Broken`] promptly; a token of that phase
    /// redeemed later gets `Err(Broken)` too. Threads waiting for a phase
    /// that completed earlier keep their `Ok`, however many resets follow:
    /// a `reset` that would overwrite the record one of them needs waits
    /// until it has read it (it is already free to return).
    ///
    /// A phase with arrivals is broken first (its waiters fail); a phaser
    /// that is neither broken nor has arrivals is left alone. If the action
    /// is running, its phase completes with `Ok` and only a pending
    /// [`abort`](Self::abort) of the next phase is undone (threads that
    /// the abort already failed keep their `Err(Broken)`). A `reset` that
    /// finds another in progress waits for it to finish and returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{BarrierError, Phaser};
    /// let phaser = Phaser::new(2);
    /// let token = phaser.arrive().unwrap();
    /// phaser.reset();
    /// assert_eq!(phaser.wait(token), Err(BarrierError::Broken));
    /// assert_eq!((phaser.phase(), phaser.arrived(), phaser.is_broken()), (1, 0, false));
    /// ```
    pub fn reset(&self) {
        let claim = self.transition(|s| {
            if s & ADVANCING != 0 {
                // The action runs: only a pending abort can be undone.
                (s & BROKEN != 0).then_some(s & !BROKEN)
            } else if s & RESETTING != 0 || (s & BROKEN == 0 && arrived(s) == 0) {
                None // Another reset owns it, or there is nothing to reset.
            } else {
                // Break (waking the phase's waiters) and claim the phase.
                Some((s | BROKEN | RESETTING) & !SLEEPERS)
            }
        });
        let claimed = match claim {
            Ok(s) if s & ADVANCING != 0 => return,
            Ok(s) => s,
            Err(s) if s & RESETTING == 0 => return,
            Err(s) => return self.await_reset(phase(s)),
        };
        // We hold RESETTING: nothing but SLEEPERS changes until we clear it,
        // and no other thread writes the record. Relaxed load: the previous
        // writer's store happens-before our claim (its Release store, its
        // AcqRel CAS, our AcqRel claim reading a later value).
        let count = (self.resets.load(Ordering::Relaxed) >> 32) as u32;
        let this = count.wrapping_add(1);
        let record = (u64::from(this) << 32) | u64::from(phase(claimed));
        // The record about to be overwritten (reset `count`'s) is the one
        // the waits of tokens from before it still need: wait until every
        // such wait has decided (`readers.rs`).
        self.readers.wait_clear(this);
        // Release: with the CAS below (AcqRel), a waiter whose Acquire load
        // sees the phase moved on also sees this record
        // (`Phaser::outcome`).
        self.resets.store(record, Ordering::Release);
        let moved = self.transition(|s| {
            (s & RESETTING != 0 && phase(s) == phase(claimed)).then(|| next_phase(s))
        });
        debug_assert!(moved.is_ok(), "Phaser: a claimed reset lost its phase");
    }

    /// Another reset owns phase `p`: wait until it has moved the phase on.
    #[cold]
    fn await_reset(&self, p: u32) {
        let backoff = Backoff::new();
        loop {
            // Relaxed would do (nothing is decided beyond "it finished"),
            // Acquire makes `reset()` returning order after that reset.
            let s = self.word().load(Ordering::Acquire);
            if s & RESETTING == 0 || phase(s) != p {
                return;
            }
            self.pause(s, None, &backoff);
        }
    }

    /// The state word with its futex word and invariant (`waiting/`).
    #[inline]
    pub(super) fn word(&self) -> StateWord<'_, Word, fn(Word) -> Option<&'static str>> {
        StateWord::new(&self.state, &self.seq, SLEEPERS, "Phaser", invalid)
    }

    /// Makes one transition of the state word (`StateWord::transition`:
    /// one CAS decided from the value it saw, which was read with
    /// `Acquire`; wakes exactly when it clears `SLEEPERS`; checked against
    /// `layout::invalid` in debug and loom builds).
    #[inline]
    pub(super) fn transition(&self, f: impl FnMut(Word) -> Option<Word>) -> Result<Word, Word> {
        self.word().transition(f)
    }

    /// One step of waiting for the state word to leave `s` (spin, yield,
    /// park). Returns `false` if the deadline passed while parked.
    #[inline]
    pub(super) fn pause(&self, s: Word, timeout: Option<&Timeout>, backoff: &Backoff) -> bool {
        self.word().pause(s, timeout, backoff)
    }

    /// The resets made so far. Exact inside a transition, after the
    /// `Acquire` load of the value its CAS replaces: the reset record is
    /// stored before the CAS that moves the phase on, so the load sees
    /// every reset whose move precedes that value; and a reset that
    /// follows it stores only after its claim, which acquires the arrival's
    /// CAS, so the load cannot see that one (SAFETY.md, "Phaser: a late
    /// waiter learns what ended its phase"). Elsewhere a guess.
    #[inline]
    pub(super) fn resets_so_far(&self) -> u32 {
        // Relaxed: ordered by the state word's Acquire load before it (above).
        (self.resets.load(Ordering::Relaxed) >> 32) as u32
    }

    /// How `token`'s phase ended, as far as the state `s` (read with
    /// `Acquire`) tells: `None` while it is still pending (or completing).
    pub(super) fn outcome(&self, token: ArrivalToken, s: Word) -> Option<Result<(), BarrierError>> {
        if phase(s) == token.phase {
            // Broken (and not merely "the next phase is broken"): failed.
            return (s & BROKEN != 0 && s & ADVANCING == 0).then_some(Err(BarrierError::Broken));
        }
        // The phase ended: completed, or broken and then ended by a reset.
        // Relaxed: `s` was read with Acquire, so every record stored before
        // the CAS that wrote `s` (or one before it) is visible.
        let record = self.resets.load(Ordering::Relaxed);
        let (count, ended) = ((record >> 32) as u32, record as u32);
        let since = count.wrapping_sub(token.resets);
        Some(if since == 0 || (since == 1 && ended != token.phase) {
            Ok(()) // No reset since the arrival, or one that ended a later phase.
        } else if since == 1 {
            Err(BarrierError::Broken) // The reset ended this very phase.
        } else {
            // Two resets or more since the arrival: the record no longer
            // says which phase the first ended. Err, never a wrong Ok
            // (SAFETY.md, "Phaser: a late waiter learns what ended its phase").
            Err(BarrierError::Broken)
        })
    }
}

impl<A> fmt::Debug for Phaser<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Relaxed: a snapshot that publishes nothing.
        let s = self.word().load(Ordering::Relaxed);
        f.debug_struct("Phaser")
            .field("phase", &phase(s))
            .field("parties", &parties(s))
            .field("arrived", &arrived(s))
            .field("broken", &(s & BROKEN != 0))
            .finish_non_exhaustive()
    }
}
