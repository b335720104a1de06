//! The driver's [`Token`] and the [`DriverCell`]s it unlocks: the fields
//! of the nodes, lists and wheel that only the thread holding the queue's
//! `DRIVING` bit touches (SAFETY.md, "TimerQueue: who owns what").
//!
//! Only the inbox, which holds the `DRIVING` bit in its head word, makes a
//! token (`Inbox::try_drive` and `Inbox::shutdown`); making one is
//! `unsafe`, so no other code can forge the proof the cells rely on.

use core::cell::UnsafeCell as CoreUnsafeCell;
use core::fmt;
use core::marker::PhantomData;

/// Proof that this thread holds the queue's `DRIVING` bit. Neither `Send`
/// nor `Sync` (the raw pointer): it stays on the driving thread.
pub(super) struct Token<'a>(PhantomData<&'a *const ()>);

impl Token<'_> {
    /// # Safety
    ///
    /// The caller has just set the queue's `DRIVING` bit, holds it while
    /// the token lives, and makes no other token meanwhile.
    #[inline]
    pub(super) const unsafe fn new() -> Self {
        Self(PhantomData)
    }
}

impl fmt::Debug for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token")
    }
}

/// A field only the driver touches (or the scheduler, before the node is
/// shared). Reads and writes need the driver's [`Token`].
pub(super) struct DriverCell<T: Copy>(CoreUnsafeCell<T>);

// SAFETY: every access takes a `Token`, and at most one exists per queue at a time (SAFETY.md, "TimerQueue: who owns what").
unsafe impl<T: Copy + Send> Sync for DriverCell<T> {}
// SAFETY: as above; a `*mut Header` inside is only dereferenced by the driver (SAFETY.md, "TimerQueue: who owns what").
unsafe impl<T: Copy> Send for DriverCell<T> {}

impl<T: Copy> DriverCell<T> {
    pub(super) const fn new(value: T) -> Self {
        Self(CoreUnsafeCell::new(value))
    }

    #[inline]
    pub(super) fn get(&self, _: &Token<'_>) -> T {
        // The token proves this thread drives the queue, and no access
        // lasts beyond this copy.
        // SAFETY: only the driver accesses driver cells (SAFETY.md, "TimerQueue: who owns what").
        unsafe { *self.0.get() }
    }

    #[inline]
    pub(super) fn set(&self, _: &Token<'_>, value: T) {
        // SAFETY: as in `get` (SAFETY.md, "TimerQueue: who owns what").
        unsafe { *self.0.get() = value }
    }
}
