//! The driver's [`Waker`] (`TimerQueue::set_driver_waker`): where an event
//! loop or an executor that drives the queue through `fire_due` hears that
//! an earlier timer was scheduled.
//!
//! A registration that stays (the loop registers once, or on every poll)
//! and any number of concurrent wakers, without a lock and without any
//! thread waiting for another:
//!
//! | `state` bits | meaning |
//! |---|---|
//! | 0 `REGISTERING` | `register` is replacing the waker: nobody else touches the cell |
//! | 1 `MISSED` | a wake found `REGISTERING` and left the wake to the registering thread |
//! | 2.. readers | wakers calling `wake_by_ref` on the stored waker (shared access) |
//!
//! `register` takes the cell only from `0` (no reader, no other
//! registration). If a wake is in progress it does not wait: it wakes the
//! new waker at once instead, so the caller looks at the queue again and
//! registers again (the executor's poll protocol). A wake that finds
//! `REGISTERING` sets `MISSED` and returns; the registering thread wakes the
//! new waker when it is done. Wakers never wait either: they share the
//! stored waker (`Waker: Sync`, and `wake_by_ref` takes `&self`).
//!
//! Orderings: `register`'s claim CAS is `Acquire`, pairing with each
//! reader's `Release` decrement (their use of the old waker happens-before
//! it is replaced); its release swap is `AcqRel`, pairing with a reader's
//! `Acquire` increment (the new waker is seen whole) and reading `MISSED`.

use crate::sync::{AtomicUsize, Ordering};
use core::fmt;
use core::task::Waker;

const REGISTERING: usize = 1;
const MISSED: usize = 2;
const READER: usize = 4;

/// The cell: loom's `UnsafeCell` under loom, so a model fails on any
/// concurrent access.
struct WakerCell(
    #[cfg(not(loom))] core::cell::UnsafeCell<Option<Waker>>,
    #[cfg(loom)] loom::cell::UnsafeCell<Option<Waker>>,
);

impl WakerCell {
    fn with<R>(&self, f: impl FnOnce(*const Option<Waker>) -> R) -> R {
        #[cfg(not(loom))]
        {
            f(self.0.get())
        }
        #[cfg(loom)]
        {
            self.0.with(f)
        }
    }

    fn with_mut<R>(&self, f: impl FnOnce(*mut Option<Waker>) -> R) -> R {
        #[cfg(not(loom))]
        {
            f(self.0.get())
        }
        #[cfg(loom)]
        {
            self.0.with_mut(f)
        }
    }
}

/// A waker slot shared by the queue's schedulers (readers) and the thread
/// that drives it (the writer).
pub(super) struct DriverWaker {
    state: AtomicUsize,
    waker: WakerCell,
}

// SAFETY: the cell is written only under `REGISTERING` with no reader, and read (shared, `Waker: Sync`) only by counted readers with `REGISTERING` clear (SAFETY.md, "TimerQueue: the driver waker").
unsafe impl Sync for DriverWaker {}

impl DriverWaker {
    pub(super) fn new() -> Self {
        Self {
            state: AtomicUsize::new(0),
            #[cfg(not(loom))]
            waker: WakerCell(core::cell::UnsafeCell::new(None)),
            #[cfg(loom)]
            waker: WakerCell(loom::cell::UnsafeCell::new(None)),
        }
    }

    /// Stores `waker` (or, if a wake is in progress, wakes it at once
    /// instead, so that its owner looks again and registers again).
    /// Returns whether it stored a waker that replaced none or one that
    /// does not `will_wake` it (and did not wake it already).
    pub(super) fn register(&self, waker: &Waker) -> bool {
        // Acquire: pairs with the readers' Release decrement: their uses of
        // the old waker happen-before we replace it.
        if self
            .state
            .compare_exchange(0, REGISTERING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            waker.wake_by_ref();
            return false;
        }
        // Clear REGISTERING even if the waker's `clone` panics.
        let release = || {
            // AcqRel: Release publishes the stored waker to the next
            // reader's Acquire increment; Acquire pairs with a MISSED
            // setter (nothing to read; the RMW reads its bit).
            self.state.swap(0, Ordering::AcqRel) & MISSED != 0
        };
        let (changed, old) = crate::unwind::on_unwind(
            || {
                self.waker.with_mut(|cell| {
                    // SAFETY: REGISTERING with no reader: this thread alone touches the cell (SAFETY.md, "TimerQueue: the driver waker").
                    let slot = unsafe { &mut *cell };
                    match slot {
                        Some(w) if w.will_wake(waker) => (false, None),
                        _ => (true, slot.replace(waker.clone())),
                    }
                })
            },
            || {
                release();
            },
        );
        let missed = release();
        if missed {
            waker.wake_by_ref();
        }
        // The replaced waker's drop (foreign code) runs after the slot is
        // released.
        drop(old);
        changed && !missed
    }

    /// Whether a waker was ever stored (a snapshot).
    pub(super) fn is_registered(&self) -> bool {
        self.with_reader(|w| w.is_some()).unwrap_or(true)
    }

    /// Wakes the stored waker, if any. Never waits: during a registration
    /// the registering thread wakes the new waker instead.
    pub(super) fn wake(&self) {
        self.with_reader(|w| {
            if let Some(w) = w {
                w.wake_by_ref();
            }
        });
    }

    /// Runs `f` on the stored waker as a counted reader; `None` (having set
    /// `MISSED`) if a registration holds the cell.
    fn with_reader<R>(&self, f: impl FnOnce(Option<&Waker>) -> R) -> Option<R> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let (to, success) = if s & REGISTERING != 0 {
                (s | MISSED, Ordering::Relaxed)
            } else {
                // Acquire: pairs with `register`'s Release swap.
                (s + READER, Ordering::Acquire)
            };
            match self
                .state
                .compare_exchange_weak(s, to, success, Ordering::Relaxed)
            {
                Ok(_) if s & REGISTERING != 0 => return None,
                Ok(_) => break,
                Err(actual) => s = actual,
            }
        }
        // Release: pairs with `register`'s Acquire claim: our use of the
        // waker happens-before it is replaced.
        let leave = || {
            self.state.fetch_sub(READER, Ordering::Release);
        };
        let r = crate::unwind::on_unwind(
            || {
                self.waker.with(|cell| {
                    // SAFETY: a counted reader with REGISTERING clear: no writer until we leave; shared access to a `Waker` is fine (`Sync`) (SAFETY.md, "TimerQueue: the driver waker").
                    let slot = unsafe { &*cell };
                    f(slot.as_ref())
                })
            },
            leave,
        );
        leave();
        Some(r)
    }
}

impl fmt::Debug for DriverWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriverWaker").finish_non_exhaustive()
    }
}
