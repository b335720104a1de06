//! What `Barrier` (and every primitive built like it) shares: a packed state
//! word with a `SLEEPERS` bit, a separate futex word to park on, the
//! transition loop that wakes exactly when it clears `SLEEPERS`, the
//! spin → yield → park step, and a timeout whose deadline is computed only
//! when first needed.
//!
//! # The protocol
//!
//! The state word holds whatever the primitive packs into it, plus one bit,
//! `SLEEPERS`, meaning "some thread is parked (or about to park) on `seq`".
//! Every change of the state word is one successful CAS made by
//! [`StateWord::transition`], decided from the value the CAS saw. A
//! transition that ends what sleepers wait for clears `SLEEPERS`; when it
//! does (and only then), `transition` bumps `seq` and wakes every thread
//! parked on it. No call site decides whether to wake, and no transition
//! makes a syscall when nobody sleeps.
//!
//! A waiter spins on the state word for a while (see `sync::Backoff`), then
//! [`StateWord::park`]s: it reads `seq`, sets `SLEEPERS` with a CAS that
//! also checks the state is still the one it gave up on, and waits on `seq`
//! with the value it read. SAFETY.md, "Waiting: no lost wake-up", gives the
//! argument that this never misses a wake.
//!
//! # Memory ordering
//!
//! - Every successful transition is `AcqRel`, and every value
//!   `transition` hands to its closure or returns (`Ok` or `Err`) was read
//!   with `Acquire` (the initial load and the CAS's failure ordering). So
//!   any decision a caller makes from a value it got here (return `Ok`,
//!   report `Broken`, depart) synchronises with the transition that wrote
//!   that value, and through the release sequence of RMWs on the word with
//!   every transition before it.
//! - `seq` is loaded `Acquire` before the state is re-checked in `park`; the
//!   waker bumps it with `Release` after its state CAS.

use crate::futex::{self, Deadline};
use crate::sync::{AtomicU32, Backoff, Ordering};
use core::cell::Cell;
use core::fmt::Debug;
use core::ops::{BitAnd, BitOr, Not};
use core::time::Duration;

/// An unsigned integer type a state word is made of (`u32` or `u64`), with
/// its atomic type.
pub(crate) trait Word:
    Copy + Eq + Debug + BitAnd<Output = Self> + BitOr<Output = Self> + Not<Output = Self>
{
    /// The atomic type holding a `Self` (loom's under `cfg(loom)`).
    type Atomic: Debug;
    /// `0`.
    const ZERO: Self;
    /// `Atomic::load`.
    fn load(atomic: &Self::Atomic, order: Ordering) -> Self;
    /// `Atomic::compare_exchange_weak`.
    fn compare_exchange_weak(
        atomic: &Self::Atomic,
        current: Self,
        new: Self,
        success: Ordering,
        failure: Ordering,
    ) -> Result<Self, Self>;
}

macro_rules! impl_word {
    ($word:ty, $atomic:ty) => {
        impl Word for $word {
            type Atomic = $atomic;
            const ZERO: Self = 0;
            #[inline]
            fn load(atomic: &Self::Atomic, order: Ordering) -> Self {
                atomic.load(order)
            }
            #[inline]
            fn compare_exchange_weak(
                atomic: &Self::Atomic,
                current: Self,
                new: Self,
                success: Ordering,
                failure: Ordering,
            ) -> Result<Self, Self> {
                atomic.compare_exchange_weak(current, new, success, failure)
            }
        }
    };
}

#[cfg(target_has_atomic = "64")]
impl_word!(u64, crate::sync::AtomicU64);
impl_word!(u32, AtomicU32);

/// A packed state word plus the futex word its sleepers park on, borrowed
/// from the primitive that owns them (so that the owner lays out its fields
/// as it likes: `Barrier<NoAction>` stays 24 bytes).
///
/// `sleepers` is the state word's "somebody sleeps" bit, which each
/// primitive places where its layout has room.
#[derive(Debug)]
pub(crate) struct StateWord<'a, W: Word> {
    state: &'a W::Atomic,
    /// The futex word sleepers park on; bumped when they must wake. Never
    /// an alias of the state word: mixed-size atomic access is forbidden.
    seq: &'a AtomicU32,
    sleepers: W,
}

impl<W: Word> Clone for StateWord<'_, W> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<W: Word> Copy for StateWord<'_, W> {}

impl<'a, W: Word> StateWord<'a, W> {
    /// The state word `state`, whose `sleepers` bit means "parked on `seq`".
    #[inline]
    pub(crate) fn new(state: &'a W::Atomic, seq: &'a AtomicU32, sleepers: W) -> Self {
        Self {
            state,
            seq,
            sleepers,
        }
    }

    /// Loads the state word. `Acquire` when the caller decides something
    /// from it, `Relaxed` for a snapshot that publishes nothing.
    #[inline]
    pub(crate) fn load(self, order: Ordering) -> W {
        W::load(self.state, order)
    }

    /// Makes one transition of the state word: `f` maps the current word to
    /// the next, or to `None` for "no transition" (then `Err(current)`).
    /// Returns the word it replaced. Every state change goes through here.
    ///
    /// Wakes parked threads exactly when the transition clears `sleepers`
    /// (the state word's `SLEEPERS` bit).
    ///
    /// Every value passed to `f` and returned was read with `Acquire`, so a
    /// caller may decide from it (module docs, "Memory ordering"). On x86
    /// that costs nothing (every load is an acquire load); on weaker
    /// hardware it is one ordered load on paths that already make an RMW.
    #[inline]
    pub(crate) fn transition(self, mut f: impl FnMut(W) -> Option<W>) -> Result<W, W> {
        // The loop `fetch_update` would write, spelled out so it builds
        // warning-free from the MSRV to nightly. Acquire on the load and the
        // failure path: the Err value is one callers decide from. AcqRel on
        // success: Release publishes this thread's writes (and those it saw)
        // to whoever acquires the new value; Acquire makes every earlier
        // transition's writes visible here.
        let mut old = self.load(Ordering::Acquire);
        let new = loop {
            let new = f(old).ok_or(old)?;
            match W::compare_exchange_weak(
                self.state,
                old,
                new,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break new,
                Err(actual) => old = actual,
            }
        };
        if old & self.sleepers != W::ZERO && new & self.sleepers == W::ZERO {
            self.wake_sleepers();
        }
        Ok(old)
    }

    #[cold]
    fn wake_sleepers(self) {
        // Release pairs with the Acquire load of `seq` in `park`: a parker
        // that reads this bump also sees the state transition before it.
        self.seq.fetch_add(1, Ordering::Release);
        futex::wake_all(self.seq);
    }

    /// One step of waiting for the state word to leave `s`: spin (later
    /// yield) while `backoff`'s budget lasts, then park. Returns `false` if
    /// the deadline passed while parked (the caller re-checks it either way).
    #[inline]
    pub(crate) fn pause(self, s: W, timeout: Option<&Timeout>, backoff: &Backoff) -> bool {
        if !backoff.is_spinning() {
            // Spinning is over (or skipped, when too many parties are
            // missing): fix the deadline before the first yield, which may
            // last a whole time slice, so that the wait is late by at most
            // the spin phase. A cached `Cell` read after the first time.
            let _ = timeout.map(Timeout::deadline);
        }
        if backoff.snooze() {
            return true;
        }
        self.park(s, timeout.and_then(Timeout::deadline))
    }

    /// Parks on `seq` until a waking transition, if the state is still `s`.
    #[cold]
    fn park(self, s: W, deadline: Option<Deadline>) -> bool {
        let sleepers = self.sleepers;
        // Read `seq` *before* re-checking the state. Acquire pairs with the
        // Release bump in `wake_sleepers`: if this reads a bump, the
        // re-check below sees the transition that preceded it.
        let seq = self.seq.load(Ordering::Acquire);
        if s & sleepers == W::ZERO {
            // Publish SLEEPERS, only if the state is still `s` (else we
            // re-check). Its Release makes the `seq` load above happen-before
            // the waker's Acquire transition that sees SLEEPERS, so that load
            // cannot have read the waker's bump.
            if self
                .transition(|now| (now == s).then_some(s | sleepers))
                .is_err()
            {
                return true;
            }
        } else if self.load(Ordering::Acquire) != s {
            return true;
        }
        futex::wait(self.seq, seq, deadline)
    }
}

/// One step of sleeping on `word` until it changes, for the primitives
/// whose waiters sleep on the word they wait on and announce themselves with
/// a `flag` bit in it (`Timer`'s and `ScheduledTimer`'s `PARKED`,
/// `WaitCount`'s `WAITING`): the thread that changes the word sees the flag
/// in the value its RMW replaces and wakes the word.
///
/// `seen` is the caller's latest value of `word`. If `flag` is clear, sets
/// it with a CAS first; if that CAS fails, returns the value it found
/// without sleeping. Otherwise sleeps while the word still holds
/// `seen | flag` (until woken, `deadline`, or spuriously) and returns the
/// word's value after. Every value returned was read `Acquire`, so a caller
/// that decides from it (finished, count zero) synchronises with the
/// `Release` RMW that wrote it. The caller loops: check its condition and
/// deadline on the returned value, then call again.
///
/// No lost wake-up: the flag is in the word before the sleep, and the
/// kernel compares the word with `seen | flag` atomically with queueing the
/// sleeper; a change made after the CAS either lands before that compare
/// (no sleep) or sees the flag and wakes (SAFETY.md, "Waiting: no lost
/// wake-up").
#[inline]
pub(crate) fn park_flagged(
    word: &AtomicU32,
    seen: u32,
    flag: u32,
    deadline: Option<Deadline>,
) -> u32 {
    let mut s = seen;
    if s & flag == 0 {
        // Relaxed on success: the flag publishes nothing; the value this
        // step returns is re-read Acquire after the sleep. Acquire on
        // failure: the caller decides from the value returned.
        match word.compare_exchange(s, s | flag, Ordering::Relaxed, Ordering::Acquire) {
            Ok(_) => s |= flag,
            Err(actual) => return actual,
        }
    }
    futex::wait(word, s, deadline);
    // Acquire: pairs with the Release RMW that changed the word.
    word.load(Ordering::Acquire)
}

/// A waiter's timeout, turned into a deadline only when first needed.
///
/// Most timed waits end while still spinning (a two-thread round takes
/// ~60-100 ns); reading the clock up front would cost each of them a clock
/// read, about as much again as the round. So the deadline is computed the
/// first time the waiter looks at it: once spinning is over (at the latest
/// before its first yield, in `StateWord::pause`), or when it parks. The
/// wait then ends at least `timeout` after the call (never early), late by
/// at most the spin phase (16 `spin_loop` hints, none when too many parties
/// are missing: `sync::Backoff`).
pub(crate) struct Timeout(Cell<Limit>);

#[derive(Clone, Copy)]
enum Limit {
    Forever,
    After(Duration),
    At(Deadline),
}

impl Timeout {
    /// `None`: wait forever.
    #[inline]
    pub(crate) fn new(timeout: Option<Duration>) -> Self {
        Self(Cell::new(timeout.map_or(Limit::Forever, Limit::After)))
    }

    /// The deadline (`None`: never), computed on first use.
    pub(crate) fn deadline(&self) -> Option<Deadline> {
        match self.0.get() {
            Limit::Forever => None,
            Limit::At(d) => Some(d),
            Limit::After(t) => {
                let d = Deadline::after(t);
                self.0.set(d.map_or(Limit::Forever, Limit::At));
                d
            }
        }
    }

    /// Whether the deadline has passed; not looked at while spinning.
    #[inline]
    pub(crate) fn has_passed(&self, backoff: &Backoff) -> bool {
        match self.0.get() {
            Limit::Forever => false,
            _ if backoff.is_spinning() => false,
            _ => self.has_expired(),
        }
    }

    /// Whether the deadline has passed, whatever the spin phase.
    pub(crate) fn has_expired(&self) -> bool {
        self.deadline().is_some_and(Deadline::has_passed)
    }
}
