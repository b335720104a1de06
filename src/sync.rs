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
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU32, Ordering};

#[cfg(all(loom, target_has_atomic = "64"))]
pub(crate) use loom::sync::atomic::AtomicU64;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::Ordering;

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
/// Outside loom this is `crossbeam_utils::Backoff`: exponential `spin_loop`
/// bursts, then (with `std`) a few `yield_now`s, then "park now". Under loom
/// spinning proves nothing (loom explores the re-checks anyway) and an
/// unbounded spin loop blows up its state space, so the model parks at once.
#[derive(Debug)]
pub(crate) struct Backoff {
    #[cfg(not(loom))]
    inner: crossbeam_utils::Backoff,
}

impl Backoff {
    #[inline]
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(not(loom))]
            inner: crossbeam_utils::Backoff::new(),
        }
    }

    /// Starts the spin budget over: the caller saw progress.
    #[inline]
    pub(crate) fn reset(&self) {
        #[cfg(not(loom))]
        self.inner.reset();
    }

    /// Spins (and later yields) once; returns false when it is time to park.
    #[inline]
    pub(crate) fn snooze(&self) -> bool {
        #[cfg(not(loom))]
        {
            if self.inner.is_completed() {
                return false;
            }
            self.inner.snooze();
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

    // SAFETY: a `&TakeCell<T>` gives no access to the `T` except through the
    // `unsafe` methods below, whose callers guarantee that exactly one thread
    // ever touches it, once; that thread may be another than the one that
    // built it, hence `T: Send` (SAFETY.md, "Timer: the function cell").
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
                // SAFETY: the caller guarantees exclusive, once-only access, so
                // the value is initialised and nobody reads it after this
                // (SAFETY.md, "Timer: the function cell").
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
                // SAFETY: as in `take`; `&mut self` excludes other access, and
                // `ManuallyDrop<T>` has `T`'s layout (`repr(transparent)`)
                // (SAFETY.md, "Timer: the function cell").
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
/// `panic = "abort"` there is nothing to clean up). Under loom the model's
/// futex lock (loom's `Mutex`, built on a std one) would be poisoned by a
/// wake issued from a destructor during unwinding, so there `cleanup` runs
/// after `catch_unwind`, before `resume_unwind`. Either way `cleanup` sees
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
