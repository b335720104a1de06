//! A count of registered waits whose last leaver wakes the one thread that
//! blocks until the count is zero: the narrow `Barrier`'s stragglers per
//! half of the generation space (`barrier/lag.rs`) and the `Phaser`'s
//! waiters per reset class (`phaser/readers.rs`). What a registration
//! stands for, and which transition publishes it, is theirs; the count,
//! the `WAITING` flag and the park/wake handshake are here, once.

use super::thread::park_flagged;
use crate::futex;
use crate::sync::{AtomicU32, Ordering};

/// A thread waits in [`WaitCount::wait_clear`] for the count to reach zero.
const WAITING: u32 = 1 << 31;
/// The number of registered waits.
const COUNT: u32 = WAITING - 1;

/// Registered waits, and the futex word of a thread blocked in
/// [`wait_clear`](Self::wait_clear).
#[derive(Debug)]
pub(crate) struct WaitCount(AtomicU32);

impl WaitCount {
    crate::sync::loom_const_fn! {
        pub(crate) fn new() -> Self {
            Self(AtomicU32::new(0))
        }
    }

    /// Registers a wait. `Relaxed`: the caller's next transition on its
    /// state word publishes it (each caller argues which).
    #[inline]
    pub(crate) fn enter(&self) {
        let old = self.0.fetch_add(1, Ordering::Relaxed);
        debug_assert!(old & COUNT < COUNT, "wait count overflow");
    }

    /// Ends a registration; the last one out wakes a blocked
    /// [`wait_clear`](Self::wait_clear).
    #[inline]
    pub(crate) fn leave(&self) {
        // Release pairs with the Acquire loads in `is_clear`/`wait_clear`:
        // everything this waiter read happens-before what the cleared
        // count lets the other thread do next.
        let old = self.0.fetch_sub(1, Ordering::Release);
        debug_assert!(old & COUNT != 0, "wait count underflow");
        if old == WAITING | 1 {
            // The last one out, and a thread blocks on this count.
            self.0.fetch_and(!WAITING, Ordering::Relaxed);
            futex::wake_all(&self.0);
        }
    }

    /// Whether no wait is registered.
    #[inline]
    #[cfg_attr(
        not(any(rallypoint_narrow_state, not(target_has_atomic = "64"))),
        allow(dead_code)
    )]
    pub(crate) fn is_clear(&self) -> bool {
        // Acquire pairs with the Release decrement in `leave`.
        self.0.load(Ordering::Acquire) & COUNT == 0
    }

    /// Blocks until no wait is registered.
    #[cold]
    pub(crate) fn wait_clear(&self) {
        // Acquire pairs with the Release decrement in `leave` (and so does
        // every value `park_flagged` returns).
        let mut v = self.0.load(Ordering::Acquire);
        // `leave` wakes after clearing WAITING; a wait that enters the
        // kernel after that sees a changed word and returns at once.
        while v & COUNT != 0 {
            v = park_flagged(&self.0, v, WAITING, None);
        }
    }

    /// The registered waits now (tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn count(&self) -> u32 {
        self.0.load(Ordering::Relaxed) & COUNT
    }

    /// Whether a thread is marked as blocked (tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_waited_on(&self) -> bool {
        self.0.load(Ordering::Relaxed) & WAITING != 0
    }
}
