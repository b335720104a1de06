//! [`Barrier`]: the type, its construction and snapshots, and the
//! transitions that are not a wait (`abort`, `reset`). The state word and
//! the protocol are described in `barrier/mod.rs`.

use super::lag::Lag;
use super::layout::{
    count, fresh_generation, invalid, is_failed, AtomicWord, Word, BROKEN, COUNT_MASK, RESETTING,
    SLEEPERS, TOO_MANY_PARTIES,
};
use crate::action::{BarrierAction, NoAction};
#[cfg(doc)]
use crate::error::BarrierError;
use crate::sync::{loom_const_fn, AtomicU32, Ordering};
use crate::time::{Nanos, Timeout};
use crate::waiting::{Backoff, StateWord};
use core::fmt;
use core::time::Duration;

/// A reusable barrier with Python's `threading.Barrier` semantics.
///
/// `parties` threads call [`wait`](Self::wait); the last to arrive runs the
/// optional action and releases them all, each with its arrival
/// [`index`](crate::BarrierWaitResult::index). The barrier can be
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
    pub(super) lag: Lag,
    /// Default timeout of `wait()`.
    pub(super) timeout: Option<Nanos>,
    pub(super) action: A,
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
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = rallypoint::Barrier::new(3);
    /// assert_eq!(barrier.parties(), 3);
    /// ```
    #[inline]
    pub fn parties(&self) -> usize {
        self.parties as usize
    }

    /// The default timeout of [`wait`](Self::wait), if one was set.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let barrier = rallypoint::Barrier::new(2);
    /// assert_eq!(barrier.timeout(), None);
    /// let barrier = barrier.with_timeout(Duration::from_secs(5));
    /// assert_eq!(barrier.timeout(), Some(Duration::from_secs(5)));
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let barrier = rallypoint::Barrier::new(2);
    /// assert!(!barrier.is_broken());
    /// let _ = barrier.wait_timeout(Duration::ZERO); // times out: breaks it
    /// assert!(barrier.is_broken());
    /// ```
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
    pub(super) fn word(&self) -> StateWord<'_, Word, impl Fn(Word) -> Option<&'static str> + Copy> {
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
    pub(super) fn transition(&self, f: impl FnMut(Word) -> Option<Word>) -> Result<Word, Word> {
        self.word().transition(f)
    }

    /// One step of waiting for the state word to leave `s` (spin, yield,
    /// park). Returns `false` if the deadline passed while parked.
    #[inline]
    pub(super) fn pause(&self, s: Word, timeout: Option<&Timeout>, backoff: &Backoff) -> bool {
        self.word().pause(s, timeout, backoff)
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
