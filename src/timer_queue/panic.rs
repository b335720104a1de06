//! Panics on the queue's paths: a function's panic is caught and kept for
//! `ScheduledTimer::join` (`std`); a destructor's panic on a driver path is
//! caught and dropped, or resumed in the caller once the queue is
//! consistent. Without `std` nothing is caught: a panic unwinds, and the
//! callers are unwind-safe.

#[cfg(feature = "std")]
use alloc::boxed::Box;

/// A panic payload.
#[cfg(feature = "std")]
pub(super) type Payload = Box<dyn core::any::Any + Send + 'static>;

/// A panic payload caught on a driver path (uninhabited without `std`,
/// where nothing is caught and a panic unwinds instead).
#[cfg(feature = "std")]
pub(super) type Panic = Payload;
#[cfg(not(feature = "std"))]
pub(super) type Panic = core::convert::Infallible;

/// Runs code that may run user code (a closure's destructor, a panic
/// payload's): with `std` a panic is caught and returned; without `std` it
/// unwinds, and the callers are unwind-safe.
#[inline]
pub(super) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Panic> {
    #[cfg(feature = "std")]
    {
        extern crate std;
        std::panic::catch_unwind(core::panic::AssertUnwindSafe(f))
    }
    #[cfg(not(feature = "std"))]
    {
        Ok(f())
    }
}

/// Drops a caught payload on a path that must go on (its destructor is
/// user code too: a panic there is caught and the second payload leaked).
#[cfg(feature = "std")]
pub(super) fn discard_panic(p: Option<Panic>) {
    if let Some(p) = p {
        if let Err(again) = catch(move || drop(p)) {
            core::mem::forget(again);
        }
    }
}

/// Without `std` nothing is caught, so there is nothing to drop.
#[cfg(not(feature = "std"))]
pub(super) fn discard_panic(p: Option<Panic>) {
    if let Some(p) = p {
        match p {}
    }
}

/// Keeps the first of several caught panics.
#[cfg(feature = "std")]
pub(super) fn keep_first(first: &mut Option<Panic>, p: Panic) {
    if first.is_none() {
        *first = Some(p);
    } else {
        discard_panic(Some(p));
    }
}

/// Resumes a caught panic on the caller's thread: a drain's, in
/// `TimerQueue::shutdown`, and in `TimerQueue::drop` (after the queue is
/// freed, as dropping a collection whose element panics does).
pub(super) fn resume(panic: Option<Panic>) {
    if let Some(panic) = panic {
        #[cfg(feature = "std")]
        {
            extern crate std;
            std::panic::resume_unwind(panic);
        }
        #[cfg(not(feature = "std"))]
        match panic {}
    }
}
