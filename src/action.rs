//! What a barrier runs and returns: [`BarrierAction`], [`NoAction`] and
//! [`BarrierWaitResult`], shared by [`Barrier`] and
//! [`Phaser`](crate::Phaser).

#[cfg(doc)]
use crate::Barrier;

/// What a barrier runs when a generation completes: Python's `action`.
///
/// Implemented for every `Fn()` closure and for [`NoAction`]; implement it
/// for a type of your own to give the action a name and state, and pass it
/// to [`Barrier::with_action`]. The action runs exactly once per completed
/// generation, on the leader's thread (the last to arrive), after all
/// parties arrived and before any of them returns.
///
/// # Examples
///
/// ```
/// use rallypoint::{Barrier, BarrierAction};
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// /// Counts completed rounds.
/// struct Rounds<'a>(&'a AtomicU64);
/// impl BarrierAction for Rounds<'_> {
///     fn run(&self) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
/// }
///
/// let rounds = AtomicU64::new(0);
/// let barrier = Barrier::with_action(1, Rounds(&rounds));
/// barrier.wait().unwrap();
/// barrier.wait().unwrap();
/// assert_eq!(rounds.load(Ordering::Relaxed), 2);
/// ```
pub trait BarrierAction {
    /// Runs the action.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::BarrierAction;
    /// use std::cell::Cell;
    ///
    /// let calls = Cell::new(0);
    /// let count = || calls.set(calls.get() + 1);
    /// count.run(); // every `Fn()` is a `BarrierAction`
    /// assert_eq!(calls.get(), 1);
    /// ```
    fn run(&self);

    /// Whether `run` does nothing, so the leader can release the generation
    /// in the same CAS it arrives with. Implementation detail of
    /// [`NoAction`]; leave it `false`.
    #[doc(hidden)]
    const IS_NOOP: bool = false;
}

/// The action of a barrier built with [`Barrier::new`] (and of a
/// [`Phaser`](crate::Phaser) built with `Phaser::new`): does nothing.
///
/// It also lets the last party release the others in the same atomic
/// operation it arrives with, which an action that does something cannot.
///
/// # Examples
///
/// ```
/// use rallypoint::{Barrier, BarrierAction, NoAction};
///
/// let barrier: Barrier<NoAction> = Barrier::new(1);
/// barrier.wait().unwrap();
/// NoAction.run(); // does nothing
/// assert_eq!(core::mem::size_of::<NoAction>(), 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoAction;

impl BarrierAction for NoAction {
    #[inline]
    fn run(&self) {}
    const IS_NOOP: bool = true;
}

impl<F: Fn()> BarrierAction for F {
    #[inline]
    fn run(&self) {
        self();
    }
}

/// What a successful [`Barrier::wait`] (or
/// [`Phaser::arrive_and_wait`](crate::Phaser::arrive_and_wait)) returns:
/// this party's arrival index.
///
/// # Examples
///
/// ```
/// let barrier = rallypoint::Barrier::new(1);
/// let result = barrier.wait().unwrap();
/// assert_eq!(result.index(), 0);
/// assert!(result.is_leader());
/// ```
///
/// Not `#[must_use]` (nor is std's): most callers only need to know the
/// barrier was passed, and the `Result` around it is `#[must_use]` already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BarrierWaitResult {
    index: u32,
    parties: u32,
}

impl BarrierWaitResult {
    /// The result for arrival `index` of a round of `parties`.
    pub(crate) const fn new(index: usize, parties: usize) -> Self {
        Self {
            index: index as u32,
            parties: parties as u32,
        }
    }

    /// This party's place in its generation's arrival order, in
    /// `0..parties`: 0 arrived first, `parties - 1` last. Python's return
    /// value of `Barrier.wait()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = rallypoint::Barrier::new(2);
    /// let mut indices = std::thread::scope(|s| {
    ///     let other = s.spawn(|| barrier.wait().unwrap().index());
    ///     [barrier.wait().unwrap().index(), other.join().unwrap()]
    /// });
    /// indices.sort();
    /// assert_eq!(indices, [0, 1]);
    /// ```
    #[inline]
    pub fn index(&self) -> usize {
        self.index as usize
    }

    /// Whether this party arrived last (`index() == parties - 1`): the one
    /// that ran the action. Like `std::sync::BarrierWaitResult::is_leader`.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = rallypoint::Barrier::new(2);
    /// let leaders = std::thread::scope(|s| {
    ///     let other = s.spawn(|| barrier.wait().unwrap().is_leader());
    ///     [barrier.wait().unwrap().is_leader(), other.join().unwrap()]
    /// });
    /// assert_eq!(leaders.iter().filter(|&&l| l).count(), 1); // exactly one
    /// ```
    #[inline]
    pub fn is_leader(&self) -> bool {
        self.index + 1 == self.parties
    }
}
