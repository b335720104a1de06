//! [`Precision`]: how precisely a timer thread's timed waits end.
#![cfg_attr(not(feature = "alloc"), allow(dead_code))] // Only TimerQueue and Timer::start apply it.
//!
//! On Linux and Android a thread's *timer slack* lets the kernel end its
//! timed waits up to that many nanoseconds late (never early) so that it
//! can batch wake-ups; the default is 50 µs. [`Precision::Precise`] sets it
//! to 1 ns (`prctl(PR_SET_TIMERSLACK, 1)`) on the thread that waits for the
//! timers, for as long as it does. Elsewhere the setting changes nothing:
//! Windows ends waits on its timer tick (up to ~15.6 ms unless an
//! application raised the system timer resolution), macOS and FreeBSD have
//! no per-thread knob for these waits.

/// How precisely a timer thread wakes for its deadlines. Never early either
/// way: a timer never fires before its due time on the monotonic clock.
///
/// Measured on a 2-vCPU Linux VM (`examples/timers.rs`): firing lateness
/// p50 ~65-70 µs with [`Default`](Self::Default), ~15-25 µs with
/// [`Precise`](Self::Precise), which costs more wake-ups (the kernel can no
/// longer merge a timer thread's wake-up with other expiring timers).
///
/// # Examples
///
/// ```
/// use rallypoint::{Precision, TimerQueue};
///
/// assert_eq!(Precision::default(), Precision::Default);
/// // A queue whose driving thread wakes as precisely as the OS allows
/// // (a `Timer` takes it in `start_with_precision`).
/// let queue = TimerQueue::new().with_precision(Precision::Precise);
/// assert_eq!(queue.precision(), Precision::Precise);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Precision {
    /// The OS default (Linux: the thread's timer slack, normally 50 µs).
    #[default]
    Default,
    /// As precise as the OS allows (Linux: timer slack of 1 ns while the
    /// timer thread waits).
    Precise,
}

/// Restores the thread's previous timer slack when dropped.
#[derive(Debug)]
pub(crate) struct Applied {
    #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri), not(loom)))]
    old: Option<core::ffi::c_ulong>,
}

/// Applies `precision` to the calling thread until the result is dropped.
pub(crate) fn apply(precision: Precision) -> Applied {
    #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri), not(loom)))]
    {
        if precision == Precision::Default {
            return Applied { old: None };
        }
        let old = imp::get();
        imp::set(1);
        Applied { old: Some(old) }
    }
    #[cfg(not(all(any(target_os = "linux", target_os = "android"), not(miri), not(loom))))]
    {
        let _ = precision;
        Applied {}
    }
}

impl Drop for Applied {
    fn drop(&mut self) {
        #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri), not(loom)))]
        if let Some(old) = self.old {
            imp::set(old);
        }
    }
}

#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri), not(loom)))]
#[allow(unsafe_code)]
mod imp {
    use core::ffi::c_ulong;

    /// The calling thread's timer slack, in nanoseconds.
    pub(super) fn get() -> c_ulong {
        // PR_GET_TIMERSLACK takes no further argument and returns the slack.
        // SAFETY: a valid prctl option with no pointer arguments (SAFETY.md, "Precision: timer slack").
        let r = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK) };
        debug_assert!(r >= 0, "PR_GET_TIMERSLACK failed");
        c_ulong::try_from(r).unwrap_or(50_000)
    }

    /// Sets the calling thread's timer slack (0 = the thread's default).
    pub(super) fn set(ns: c_ulong) {
        // PR_SET_TIMERSLACK reads one integer argument; it cannot fail for
        // a plain thread (RT threads ignore slack).
        // SAFETY: a valid prctl option with one integer argument (SAFETY.md, "Precision: timer slack").
        let r = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns) };
        debug_assert_eq!(r, 0, "PR_SET_TIMERSLACK failed");
    }
}

#[cfg(all(
    test,
    any(target_os = "linux", target_os = "android"),
    not(miri),
    not(loom)
))]
mod tests {
    use super::*;

    #[test]
    fn precise_sets_one_ns_and_restores() {
        let before = imp::get();
        {
            let _applied = apply(Precision::Precise);
            assert_eq!(imp::get(), 1);
        }
        assert_eq!(imp::get(), before);
        let _default = apply(Precision::Default);
        assert_eq!(imp::get(), before);
    }
}
