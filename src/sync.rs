//! The loom shim: every atomic, spin hint and backoff the algorithms use.
//!
//! Algorithm code (`barrier.rs`, `timer.rs`) imports only from here, so that
//! `RUSTFLAGS="--cfg loom"` swaps in loom's model-checked types without
//! touching a line of it. Keyed on `cfg(loom)` alone (not `all(test, loom)`,
//! which never switches on for `loom-tests/`, where the library is built
//! without `cfg(test)`).
//!
//! Under loom, [`AtomicU32`] is a wrapper that carries the per-word mutex and
//! condition variable of the futex model (`futex/loom.rs`); it dereferences to
//! loom's own `AtomicU32`, so the algorithms call the usual methods on it.

#[cfg(all(not(loom), target_has_atomic = "64"))]
pub(crate) use core::sync::atomic::AtomicU64;
#[cfg(all(not(loom), feature = "alloc"))]
pub(crate) use core::sync::atomic::{AtomicPtr, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU32, Ordering};

#[cfg(all(loom, target_has_atomic = "64"))]
pub(crate) use loom::sync::atomic::AtomicU64;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::Ordering;
#[cfg(all(loom, feature = "alloc"))]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicUsize};

/// Under loom: loom's `AtomicU32` plus the futex model's per-word lock.
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct AtomicU32 {
    pub(crate) atomic: loom::sync::atomic::AtomicU32,
    /// Held while a waiter checks the value and while a waker notifies, so
    /// a check-then-sleep can never miss a wake (what the kernel's futex
    /// hash-bucket lock does for a real futex).
    pub(crate) lock: loom::sync::Mutex<()>,
    pub(crate) cond: loom::sync::Condvar,
}

#[cfg(loom)]
impl AtomicU32 {
    pub(crate) fn new(value: u32) -> Self {
        Self {
            atomic: loom::sync::atomic::AtomicU32::new(value),
            lock: loom::sync::Mutex::new(()),
            cond: loom::sync::Condvar::new(),
        }
    }
}

#[cfg(loom)]
impl core::ops::Deref for AtomicU32 {
    type Target = loom::sync::atomic::AtomicU32;
    fn deref(&self) -> &Self::Target {
        &self.atomic
    }
}

/// Bounded spinning before a waiter parks.
///
/// A waiter re-checks the word after every `spin_loop` hint for
/// [`SPIN_CHECKS`] rounds, then (with `std`) yields to the scheduler up to
/// [`YIELD_CHECKS`] times, then parks. Not `crossbeam_utils::Backoff`:
/// its `snooze` spins in exponential bursts of up to 64 hints between
/// checks, which delays noticing a release (measured: 7.8 M two-thread
/// rounds/s with it, 13-16 M with this), and it yields only 4 times before
/// giving up, which makes oversubscribed waiters park (futex round trips)
/// where a yield would have let the missing party arrive.
/// Under loom spinning proves nothing (loom explores the re-checks anyway)
/// and an unbounded spin loop blows up its state space, so the model parks
/// at once.
#[derive(Debug)]
pub(crate) struct Backoff {
    #[cfg(not(loom))]
    step: core::cell::Cell<u32>,
}

/// Re-checks with one `spin_loop` hint each before yielding: about the time
/// a running partner needs to arrive (a two-thread round is ~60-100 ns).
/// Tuned with `examples/compare` on 2 cores: 8 loses two-thread rounds to
/// preemption, 48+ wastes the CPU that oversubscribed parties need.
#[cfg(not(loom))]
const SPIN_CHECKS: u32 = 16;
/// Re-checks with one `yield_now` each (std only) before parking; restarted
/// whenever more parties arrive. Yielding hands the core to a party that has
/// yet to arrive, which is what oversubscribed rounds need; parking only
/// when arrivals stall keeps idle waiters off the CPU.
#[cfg(all(not(loom), feature = "std"))]
const YIELD_CHECKS: u32 = 64;
#[cfg(all(not(loom), not(feature = "std")))]
const YIELD_CHECKS: u32 = 0;

impl Backoff {
    #[inline]
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(not(loom))]
            step: core::cell::Cell::new(0),
        }
    }

    /// The caller saw progress: restart the current phase's budget. A
    /// waiter already yielding keeps yielding (when threads outnumber cores,
    /// the parties it waits for need its CPU to arrive) but does not go back
    /// to spinning.
    #[inline]
    pub(crate) fn reset(&self) {
        #[cfg(not(loom))]
        {
            let step = self.step.get();
            self.step
                .set(if step < SPIN_CHECKS { 0 } else { SPIN_CHECKS });
        }
    }

    /// Whether the spin phase (no yield, no park yet) is still going.
    #[inline]
    pub(crate) fn is_spinning(&self) -> bool {
        #[cfg(not(loom))]
        {
            self.step.get() < SPIN_CHECKS
        }
        #[cfg(loom)]
        {
            false
        }
    }

    /// Spins (later yields) once; returns false when it is time to park.
    #[inline]
    pub(crate) fn snooze(&self) -> bool {
        #[cfg(not(loom))]
        {
            let step = self.step.get();
            if step < SPIN_CHECKS {
                core::hint::spin_loop();
            } else if step < SPIN_CHECKS + YIELD_CHECKS {
                #[cfg(feature = "std")]
                {
                    extern crate std;
                    std::thread::yield_now();
                }
            } else {
                return false;
            }
            self.step.set(step + 1);
            true
        }
        #[cfg(loom)]
        {
            false
        }
    }
}

/// Declares a `const fn` that loses its `const` under loom, whose atomics
/// cannot be built in a const context.
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$attr])* #[cfg(not(loom))] $vis const fn $name($($arg: $ty),*) -> $ret $body
        $(#[$attr])* #[cfg(loom)] $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use loom_const_fn;

pub(crate) use take_cell::TakeCell;

/// A value that one thread moves out once: the timer's function.
///
/// The crate's only `unsafe` outside the wait layer. Whoever calls `take` or
/// `drop_untaken` must have exclusive, once-only rights to the value; the
/// timer's state machine grants them to the thread whose CAS won
/// `Waiting -> Running` (SAFETY.md, "Timer: the function cell"). Under loom
/// the cell is loom's `UnsafeCell`, which fails the model on any concurrent
/// access.
#[allow(unsafe_code)]
mod take_cell {
    use core::mem::ManuallyDrop;

    #[cfg(loom)]
    use loom::cell::UnsafeCell;

    /// `core`'s `UnsafeCell` with loom's `with_mut` interface.
    #[cfg(not(loom))]
    #[derive(Debug)]
    struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }
        fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    pub(crate) struct TakeCell<T> {
        value: UnsafeCell<ManuallyDrop<T>>,
    }

    // A `&TakeCell<T>` gives no access to the `T` except through the `unsafe`
    // methods below, whose callers guarantee that exactly one thread ever
    // touches it, once; that thread may not be the one that built it.
    // SAFETY: one-time access by one thread, hence only `T: Send` is needed (SAFETY.md, "Timer: the function cell").
    unsafe impl<T: Send> Sync for TakeCell<T> {}

    impl<T> TakeCell<T> {
        crate::sync::loom_const_fn! {
            pub(crate) fn new(value: T) -> Self {
                Self {
                    value: UnsafeCell::new(ManuallyDrop::new(value)),
                }
            }
        }

        /// Moves the value out.
        ///
        /// # Safety
        ///
        /// Over the cell's whole life, at most one call of `take` or
        /// `drop_untaken` happens, and no other access runs concurrently.
        pub(crate) unsafe fn take(&self) -> T {
            self.value.with_mut(|value| {
                // The caller guarantees exclusive, once-only access, so the value
                // is initialised and nobody reads it after this.
                // SAFETY: exclusive, once-only read (SAFETY.md, "Timer: the function cell").
                ManuallyDrop::into_inner(unsafe { value.read() })
            })
        }

        /// Drops the value in place.
        ///
        /// # Safety
        ///
        /// As for [`take`](Self::take).
        pub(crate) unsafe fn drop_untaken(&mut self) {
            self.value.with_mut(|value| {
                // As in `take`; `&mut self` excludes other access, and
                // `ManuallyDrop<T>` has `T`'s layout (`repr(transparent)`).
                // SAFETY: exclusive, once-only drop (SAFETY.md, "Timer: the function cell").
                unsafe { core::ptr::drop_in_place(value.cast::<T>()) }
            });
        }
    }

    impl<T> core::fmt::Debug for TakeCell<T> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("TakeCell(..)")
        }
    }
}

/// Runs `f`; if it unwinds, runs `cleanup` and lets the panic continue.
///
/// Outside loom a drop guard does it, so it works without `std` (and with
/// `panic = "abort"` there is nothing to clean up). Under loom, a wake
/// issued from a destructor during unwinding takes the futex model's lock
/// (loom's `Mutex`), which fails inside loom with "panic in a destructor
/// during cleanup"; so there `cleanup` runs after `catch_unwind`, before
/// `resume_unwind`. Either way `cleanup` sees
/// the same state and makes the same transition.
#[inline]
pub(crate) fn on_unwind<R>(f: impl FnOnce() -> R, cleanup: impl FnOnce()) -> R {
    #[cfg(not(loom))]
    {
        struct Guard<C: FnOnce()>(Option<C>);
        impl<C: FnOnce()> Drop for Guard<C> {
            fn drop(&mut self) {
                if let Some(cleanup) = self.0.take() {
                    cleanup();
                }
            }
        }
        let mut guard = Guard(Some(cleanup));
        let result = f();
        guard.0 = None;
        result
    }
    #[cfg(loom)]
    {
        extern crate std;
        match std::panic::catch_unwind(core::panic::AssertUnwindSafe(f)) {
            Ok(result) => result,
            Err(payload) => {
                cleanup();
                std::panic::resume_unwind(payload)
            }
        }
    }
}
