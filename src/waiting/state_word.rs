//! [`StateWord`]: a primitive's packed state word with its `SLEEPERS` bit
//! and the futex word `seq` its sleepers park on; the one transition loop
//! (invariant-checked, waking exactly when it clears `SLEEPERS`) and the
//! spin → yield → park step. The protocol and its memory ordering are in
//! `waiting/mod.rs`.

use super::backoff::Backoff;
use super::thread;
use crate::sync::{AtomicU32, Ordering};
use crate::time::{Deadline, Timeout};
use core::fmt::{Debug, LowerHex};
use core::ops::{BitAnd, BitOr, Not};

/// An unsigned integer type a state word is made of (`u32` or `u64`), with
/// its atomic type.
pub(crate) trait Word:
    Copy + Eq + Debug + LowerHex + BitAnd<Output = Self> + BitOr<Output = Self> + Not<Output = Self>
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
/// as it likes: `Barrier<NoAction>` stays 24 bytes), with the primitive's
/// invariant.
///
/// `sleepers` is the state word's "somebody sleeps" bit, which each
/// primitive places where its layout has room. `invalid` is the
/// primitive's invariant: it names what a word breaks (`None`: the word is
/// valid); debug and loom builds check every new word with it.
#[derive(Debug)]
pub(crate) struct StateWord<'a, W: Word, I> {
    state: &'a W::Atomic,
    /// The futex word sleepers park on; bumped when they must wake. Never
    /// an alias of the state word: mixed-size atomic access is forbidden.
    seq: &'a AtomicU32,
    sleepers: W,
    /// The primitive's name, for the invariant's panic message.
    name: &'static str,
    invalid: I,
}

impl<W: Word, I: Copy> Clone for StateWord<'_, W, I> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<W: Word, I: Copy> Copy for StateWord<'_, W, I> {}

impl<'a, W: Word, I: Fn(W) -> Option<&'static str> + Copy> StateWord<'a, W, I> {
    /// The state word `state` of the primitive `name`, whose `sleepers` bit
    /// means "parked on `seq`" and whose invariant `invalid` checks.
    #[inline]
    pub(crate) fn new(
        state: &'a W::Atomic,
        seq: &'a AtomicU32,
        sleepers: W,
        name: &'static str,
        invalid: I,
    ) -> Self {
        Self {
            state,
            seq,
            sleepers,
            name,
            invalid,
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
    /// (the state word's `SLEEPERS` bit): the transitions that end what
    /// sleepers wait for clear it, the others keep it. So no call site
    /// decides whether to wake, and none wakes with no sleeper.
    ///
    /// Every value passed to `f` and returned was read with `Acquire`, so a
    /// caller may decide from it (`waiting/mod.rs`, "Memory ordering"). On
    /// x86 that costs nothing (every load is an acquire load); on weaker
    /// hardware it is one ordered load on paths that already make an RMW.
    ///
    /// Debug and loom builds check the primitive's invariant (`invalid`)
    /// on every new word and panic, naming the transition, on a word that
    /// breaks it.
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
            self.check(old, new);
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

    /// Debug and loom builds: panics if `new` breaks the invariant.
    #[inline]
    fn check(self, old: W, new: W) {
        if cfg!(any(debug_assertions, loom)) {
            if let Some(why) = (self.invalid)(new) {
                panic!(
                    "{}: transition {old:#x} -> {new:#x} breaks the state word: {why}",
                    self.name
                );
            }
        }
    }

    /// Wakes every sleeper: the one place a transition's decision to wake
    /// (it cleared `SLEEPERS`) is carried out, for each kind of waiter.
    #[cold]
    fn wake_sleepers(self) {
        thread::wake_all(self.seq);
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
        // Release bump in `thread::wake_all`: if this reads a bump, the
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
        thread::sleep(self.seq, seq, deadline)
    }
}
