//! What a timer node runs and carries: the one-shot [`Once`] and repeating
//! [`Every`] bodies, a repeating timer's [`Repeat`] data and counters, and
//! the cell the body lives in.

use crate::sync::Ordering;
#[cfg(not(loom))]
use core::cell::UnsafeCell as CoreUnsafeCell;
use core::mem::ManuallyDrop;

/// A run or miss counter: 64 bits where the target has 64-bit atomics.
#[cfg(target_has_atomic = "64")]
pub(super) type Counter = crate::sync::AtomicU64;
#[cfg(not(target_has_atomic = "64"))]
pub(super) type Counter = crate::sync::AtomicU32;

#[inline]
pub(super) fn counter_new() -> Counter {
    Counter::new(0)
}

#[inline]
pub(super) fn counter_get(c: &Counter) -> u64 {
    // Relaxed: a snapshot; after `wait` the Acquire there orders it.
    #[allow(clippy::useless_conversion)]
    u64::from(c.load(Ordering::Relaxed))
}

#[inline]
pub(super) fn counter_add(c: &Counter, n: u64) {
    // Relaxed: only the driver writes; published by the state word.
    #[cfg(target_has_atomic = "64")]
    c.fetch_add(n, Ordering::Relaxed);
    #[cfg(not(target_has_atomic = "64"))]
    c.fetch_add(n as u32, Ordering::Relaxed);
}

/// Period and counters of a repeating timer.
#[derive(Debug)]
pub(super) struct Repeat {
    /// Nanoseconds between runs, at least 1.
    pub(super) period: u64,
    /// Completed runs (returned or panicked).
    pub(super) runs: Counter,
    /// Periods skipped because a run or the driver was late.
    pub(super) missed: Counter,
}

/// What a node runs: a one-shot [`Once`] or a repeating [`Every`].
pub(super) trait Body: Send + 'static {
    /// What the node carries beside the body: `()` or [`Repeat`].
    type Extra: Send + Sync + 'static;
    /// The repeat data, if any.
    fn repeat(extra: &Self::Extra) -> Option<&Repeat>;
    /// Runs the function once.
    ///
    /// # Safety
    ///
    /// `this` is valid and nobody else accesses it; for a one-shot body
    /// the value is moved out, and the caller never touches it again.
    unsafe fn run(this: *mut Self);
}

/// A one-shot body.
pub(super) struct Once<F>(pub(super) F);
/// A repeating body.
pub(super) struct Every<F>(pub(super) F);

impl<F: FnOnce() + Send + 'static> Body for Once<F> {
    type Extra = ();
    fn repeat((): &()) -> Option<&Repeat> {
        None
    }
    unsafe fn run(this: *mut Self) {
        // SAFETY: exclusive, once-only move out, by the caller's contract (SAFETY.md, "TimerQueue: the body").
        let f = unsafe { this.read() };
        (f.0)();
    }
}

impl<F: FnMut() + Send + 'static> Body for Every<F> {
    type Extra = Repeat;
    fn repeat(extra: &Repeat) -> Option<&Repeat> {
        Some(extra)
    }
    unsafe fn run(this: *mut Self) {
        // SAFETY: exclusive access, by the caller's contract (SAFETY.md, "TimerQueue: the body").
        let body = unsafe { &mut *this };
        (body.0)();
    }
}

/// The body's cell: loom's `UnsafeCell` under loom, so a model fails on any
/// concurrent access.
pub(super) struct BodyCell<B>(
    #[cfg(not(loom))] CoreUnsafeCell<ManuallyDrop<B>>,
    #[cfg(loom)] loom::cell::UnsafeCell<ManuallyDrop<B>>,
);

impl<B> BodyCell<B> {
    pub(super) fn new(body: B) -> Self {
        #[cfg(not(loom))]
        {
            Self(CoreUnsafeCell::new(ManuallyDrop::new(body)))
        }
        #[cfg(loom)]
        {
            Self(loom::cell::UnsafeCell::new(ManuallyDrop::new(body)))
        }
    }

    pub(super) fn with_mut<R>(&self, f: impl FnOnce(*mut B) -> R) -> R {
        #[cfg(not(loom))]
        {
            f(self.0.get().cast::<B>())
        }
        #[cfg(loom)]
        {
            self.0.with_mut(|p| f(p.cast::<B>()))
        }
    }
}
