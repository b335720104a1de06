//! The queue's time: `u64` nanoseconds on the crate's monotonic clock,
//! [`NEVER`] for "never due", and under loom the model clock and the
//! stalled-waker switch the models set.

#[cfg(not(loom))]
use crate::futex;
use core::time::Duration;

/// Due "never" (`Duration::MAX`, or beyond ~584 years of uptime).
pub(super) const NEVER: u64 = u64::MAX;

/// Nanoseconds on the crate's monotonic clock, saturating at [`NEVER`].
#[inline]
pub(super) fn nanos(d: Duration) -> u64 {
    d.as_secs()
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(u64::from(d.subsec_nanos())))
        .unwrap_or(NEVER)
}

/// The crate's monotonic clock (under loom: the model clock below).
#[inline]
fn clock() -> Duration {
    #[cfg(not(loom))]
    {
        futex::now()
    }
    #[cfg(loom)]
    {
        Duration::from_nanos(loom_clock::NOW.with(core::cell::Cell::get))
    }
}

#[inline]
pub(super) fn now_ns() -> u64 {
    nanos(clock())
}

/// The due time `delay` from now; [`NEVER`] for `Duration::MAX` or on
/// overflow.
#[inline]
pub(super) fn due_after(delay: Duration) -> u64 {
    if delay == Duration::MAX {
        return NEVER;
    }
    clock().checked_add(delay).map_or(NEVER, nanos)
}

/// Under loom the queue reads a clock the models set (loom has no time; the
/// wait layer's clock stays at zero). Not part of the API.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_clock {
    extern crate std;

    std::thread_local! {
        /// Nanoseconds. Thread-local to the OS thread, which loom's model
        /// threads share (they are coroutines on it) and other tests do not.
        pub(super) static NOW: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    }

    /// Sets the model clock.
    pub fn set(now: core::time::Duration) {
        NOW.with(|c| c.set(super::nanos(now)));
    }
}

/// Under loom, a model can make one thread's driver wakes stall for good
/// right after the `seq` bump (a preempted waker that never runs again):
/// the queue must still wake the driver through any other waker. Not part
/// of the API.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_stall {
    loom::thread_local! {
        static STALLED: core::cell::Cell<bool> = core::cell::Cell::new(false);
    }

    /// Makes the calling model thread's later driver wakes stall.
    pub fn stall_my_wakes() {
        STALLED.with(|c| c.set(true));
    }

    /// Whether the calling model thread's driver wakes stall.
    pub(crate) fn stalled() -> bool {
        STALLED.with(core::cell::Cell::get)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn nanos_saturates() {
        assert_eq!(nanos(Duration::from_nanos(7)), 7);
        assert_eq!(nanos(Duration::MAX), NEVER);
        assert_eq!(due_after(Duration::MAX), NEVER);
    }
}
