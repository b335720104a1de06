//! Instants as `u64` nanoseconds since the clock's origin: what the
//! `TimerQueue` keeps as due times (eight bytes, compared and subtracted
//! without a `Duration`'s two fields), with [`NEVER`] for "never due".
//! Under loom the queue reads a clock the models set ([`loom_clock`]): loom
//! has no time, and the wait layer's clock ([`now`](super::now)) stays at
//! zero.

use super::nanos::{nanos, NEVER};
use core::time::Duration;

/// The clock the queue's instants are on (under loom: the model clock).
#[inline]
fn clock() -> Duration {
    #[cfg(not(loom))]
    {
        super::now()
    }
    #[cfg(loom)]
    {
        Duration::from_nanos(loom_clock::NOW.with(core::cell::Cell::get))
    }
}

/// Now, as an instant.
#[inline]
pub(crate) fn now_ns() -> u64 {
    nanos(clock())
}

/// The instant `delay` from now; [`NEVER`] for `Duration::MAX` or on
/// overflow.
#[inline]
pub(crate) fn due_after(delay: Duration) -> u64 {
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn due_after_saturates() {
        assert_eq!(due_after(Duration::MAX), NEVER);
        assert!(due_after(Duration::ZERO) <= now_ns());
        assert!(due_after(Duration::from_secs(1)) > now_ns());
    }
}
